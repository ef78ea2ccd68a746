//! Ambiguity rules for short or common-word skills (`Go`, `R`, `C`, `Swift`,
//! `Rust`, `Spark`, `Excel`, `Access`, `communication`): a mention counts at
//! full weight only with supporting context — a cue word nearby, a
//! neighbouring technical skill, or a context pattern (`experience with Go`).
//! Otherwise its confidence is multiplied by `ambiguity_penalty`; it is never
//! silently accepted.

use jobenrich_domain::SkillCategory;

/// How an ambiguous term may be supported.
pub(crate) struct AmbiguityRule {
    /// The matched surface, lowercase.
    pub term: &'static str,
    /// Lowercase words or phrases that, found near the mention, support it.
    pub cues: &'static [&'static str],
    /// Whether a neighbouring technical skill (a list like `Python, Go`) supports it.
    pub tech_neighbours_support: bool,
    /// A lowercase mention (`go`, `rust`) is never the skill unless a pattern says so.
    pub needs_capital: bool,
}

const LANGUAGE_CUES: &[&str] = &["programming", "language", "developer", "engineer", "coding"];

pub(crate) const AMBIGUITY_RULES: &[AmbiguityRule] = &[
    AmbiguityRule {
        term: "go",
        cues: &[
            "golang",
            "goroutine",
            "programming",
            "language",
            "backend",
            "gin ",
            "grpc",
        ],
        tech_neighbours_support: true,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "r",
        cues: &[
            "statistic",
            "rstudio",
            "cran",
            "tidyverse",
            "ggplot",
            "shiny",
            "programming",
            "language",
            "analytics",
        ],
        tech_neighbours_support: true,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "c",
        cues: &[
            "embedded",
            "programming",
            "language",
            "firmware",
            "kernel",
            "low-level",
            "low level",
        ],
        tech_neighbours_support: true,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "swift",
        cues: &[
            "ios",
            "xcode",
            "apple",
            "objective-c",
            "swiftui",
            "cocoa",
            "programming",
            "language",
            "mobile",
        ],
        tech_neighbours_support: true,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "rust",
        cues: &[
            "cargo",
            "tokio",
            "programming",
            "language",
            "systems programming",
            "memory safety",
            "embedded",
        ],
        tech_neighbours_support: true,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "spark",
        cues: &[
            "apache",
            "pyspark",
            "hadoop",
            "databricks",
            "scala",
            "big data",
            "streaming",
            "etl",
            "data pipeline",
        ],
        tech_neighbours_support: true,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "excel",
        cues: &[
            "microsoft",
            "ms ",
            "spreadsheet",
            "vba",
            "pivot",
            "office",
            "formulas",
            "powerpoint",
            "word,",
        ],
        tech_neighbours_support: true,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "access",
        cues: &[
            "microsoft",
            "ms ",
            "database",
            "office",
            "vba",
            "excel",
            "sql",
        ],
        tech_neighbours_support: false,
        needs_capital: true,
    },
    AmbiguityRule {
        term: "communication",
        cues: &[
            "skills",
            "verbal",
            "written",
            "oral",
            "excellent",
            "strong",
            "interpersonal",
            "effective",
        ],
        tech_neighbours_support: false,
        needs_capital: false,
    },
];

/// Bytes of the longest rule term: longer matches need no comparison.
const LONGEST_TERM: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < AMBIGUITY_RULES.len() {
        if AMBIGUITY_RULES[i].term.len() > longest {
            longest = AMBIGUITY_RULES[i].term.len();
        }
        i += 1;
    }
    longest
};

/// The rule for a matched surface, compared ASCII case-insensitively.
pub(crate) fn rule_for(matched: &str) -> Option<&'static AmbiguityRule> {
    if matched.len() > LONGEST_TERM {
        return None;
    }
    AMBIGUITY_RULES
        .iter()
        .find(|r| r.term.eq_ignore_ascii_case(matched))
}

/// Categories whose neighbours make a language/tool reading likely.
pub(crate) fn is_technical(category: SkillCategory) -> bool {
    matches!(
        category,
        SkillCategory::ProgrammingLanguages
            | SkillCategory::FrameworksLibraries
            | SkillCategory::Databases
            | SkillCategory::CloudPlatforms
            | SkillCategory::DevopsTools
            | SkillCategory::DataMl
            | SkillCategory::SoftwareTools
    )
}

/// Whether a cue appears in the (lowercased) context window.
pub(crate) fn has_cue(rule: &AmbiguityRule, window_lower: &str, matched_lower: &str) -> bool {
    let general = if matches!(rule.term, "go" | "r" | "c" | "swift" | "rust") {
        LANGUAGE_CUES
    } else {
        &[]
    };
    rule.cues
        .iter()
        .chain(general.iter())
        .any(|cue| *cue != matched_lower && window_lower.contains(cue))
}
