//! The HTML report of one evaluation: a single self-contained file (inline CSS
//! and SVG, no scripts, no network) with the headline figures, the gate's
//! checks, a per-category precision/recall/F1 bar chart, the comparison to
//! the baseline and the most frequent false positives / negatives with
//! context snippets.

use crate::gate::{Baseline, CheckStatus, GateOutcome};
use crate::scoring::{ErrorExample, EvaluationMetrics};
use std::fmt::Write;

/// What the report shows besides the metrics.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub evaluation_id: &'a str,
    pub model_id: &'a str,
    pub model_version: &'a str,
    pub dataset_version: &'a str,
    pub dataset_path: Option<&'a str>,
    /// RFC 3339.
    pub evaluated_at: &'a str,
    pub execution_time_seconds: f64,
    pub metrics: &'a EvaluationMetrics,
    pub gate: &'a GateOutcome,
    pub baseline: Option<&'a Baseline>,
}

/// Inline style sheet: the report needs no other file.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}.skipped{color:#777}\
.better{color:#1a7f37}.worse{color:#c62828}.snippet{font-family:monospace;font-size:12px;max-width:60em}\
mark{background:#ffe08a}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}";

/// Escapes text for HTML element content and attribute values.
pub use jobenrich_domain::text::html_escape as escape;

const BAR_COLORS: [(&str, &str); 3] = [
    ("precision", "#4e79a7"),
    ("recall", "#f28e2b"),
    ("F1", "#59a14f"),
];

fn bar_chart(metrics: &EvaluationMetrics) -> String {
    const BAR: u32 = 14;
    const GROUP: u32 = 3 * BAR + 18;
    const PLOT_H: u32 = 200;
    const TOP: u32 = 20;
    const LEFT: u32 = 40;
    const LABEL_H: u32 = 130;
    let n = metrics.category_metrics.len() as u32;
    let width = LEFT + n.max(1) * GROUP + 20;
    let height = TOP + PLOT_H + LABEL_H;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="Precision, recall and F1 per category" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"#
    );
    for tick in 0..=4 {
        let v = tick as f64 / 4.0;
        let y = TOP + PLOT_H - (v * PLOT_H as f64).round() as u32;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"></line><text x="{}" y="{}" font-size="10" text-anchor="end">{v:.2}</text>"##,
            width - 10,
            LEFT - 4,
            y + 3
        );
    }
    for (i, (category, m)) in metrics.category_metrics.iter().enumerate() {
        let x0 = LEFT + 9 + i as u32 * GROUP;
        for (j, (value, (what, color))) in [m.precision, m.recall, m.f1]
            .into_iter()
            .zip(BAR_COLORS)
            .enumerate()
        {
            let h = (value.clamp(0.0, 1.0) * PLOT_H as f64).round() as u32;
            let _ = write!(
                svg,
                r#"<rect x="{}" y="{}" width="{BAR}" height="{h}" fill="{color}"><title>{} {what} {value:.3}</title></rect>"#,
                x0 + j as u32 * BAR,
                TOP + PLOT_H - h,
                escape(category)
            );
        }
        let lx = x0 + 3 * BAR / 2;
        let ly = TOP + PLOT_H + 10;
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ly}" font-size="11" text-anchor="end" transform="rotate(-45 {lx} {ly})">{}</text>"#,
            escape(category)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn snippet_html(snippet: &str) -> String {
    // The scorer marks the mention with « »; everything else is plain text.
    match (snippet.find('«'), snippet.find('»')) {
        (Some(a), Some(b)) if a < b => format!(
            "{}<mark>{}</mark>{}",
            escape(&snippet[..a]),
            escape(&snippet[a + '«'.len_utf8()..b]),
            escape(&snippet[b + '»'.len_utf8()..])
        ),
        _ => escape(snippet),
    }
}

fn error_table(title: &str, errors: &[ErrorExample]) -> String {
    let mut s = format!("<h2>{}</h2>", escape(title));
    if errors.is_empty() {
        s.push_str("<p>None.</p>");
        return s;
    }
    s.push_str("<table><thead><tr><th>skill</th><th>category</th><th>records</th><th>example</th><th>context</th></tr></thead><tbody>");
    for e in errors {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"snippet\">{}</td></tr>",
            escape(&e.skill),
            escape(&e.category),
            e.count,
            escape(&e.example_record_id),
            snippet_html(&e.snippet)
        );
    }
    s.push_str("</tbody></table>");
    s
}

fn delta_cell(current: f64, base: Option<f64>) -> String {
    match base {
        None => "<td class=\"num\">–</td><td class=\"num\">–</td>".to_string(),
        Some(b) => {
            let d = current - b;
            let class = if d < -1e-9 {
                "worse"
            } else if d > 1e-9 {
                "better"
            } else {
                "same"
            };
            format!(
                "<td class=\"num\">{b:.4}</td><td class=\"num {class}\">{}</td>",
                crate::signed_delta(d)
            )
        }
    }
}

/// Renders the report.
pub fn render_html(input: &ReportInput<'_>) -> String {
    let m = input.metrics;
    let mut h = String::new();
    let title = format!(
        "Evaluation of {}@{} on {}",
        input.model_id, input.model_version, input.dataset_version
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head><body>",
        escape(&title),
        STYLE
    );
    let _ = write!(h, "<h1>{}</h1>", escape(&title));
    let verdict = match input.gate.passed() {
        Some(true) => "<span class=\"pass\">PASSED</span>",
        Some(false) => "<span class=\"fail\">FAILED</span>",
        None => "<span class=\"skipped\">no thresholds</span>",
    };
    let _ = write!(
        h,
        "<table class=\"summary\"><tbody>\
<tr><th>evaluation</th><td>{}</td></tr><tr><th>dataset</th><td>{} ({})</td></tr>\
<tr><th>evaluated at</th><td>{}</td></tr><tr><th>samples</th><td>{}</td></tr>\
<tr><th>execution time</th><td>{:.2} s</td></tr><tr><th>gate</th><td>{verdict}</td></tr>\
<tr><th>macro P / R / F1</th><td>{:.4} / {:.4} / {:.4}</td></tr>\
<tr><th>micro P / R / F1</th><td>{:.4} / {:.4} / {:.4}</td></tr></tbody></table>",
        escape(input.evaluation_id),
        escape(input.dataset_version),
        escape(input.dataset_path.unwrap_or("-")),
        escape(input.evaluated_at),
        m.sample_count,
        input.execution_time_seconds,
        m.macro_avg.precision,
        m.macro_avg.recall,
        m.macro_avg.f1,
        m.micro_avg.precision,
        m.micro_avg.recall,
        m.micro_avg.f1,
    );
    if !m.notes.is_empty() {
        h.push_str("<ul class=\"notes\">");
        for n in &m.notes {
            let _ = write!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul>");
    }

    h.push_str("<h2>Quality gate</h2>");
    if input.gate.checks.is_empty() {
        h.push_str("<p>No thresholds configured.</p>");
    } else {
        h.push_str("<table><thead><tr><th>threshold</th><th>status</th><th>detail</th></tr></thead><tbody>");
        for c in &input.gate.checks {
            let (class, word) = match c.status {
                CheckStatus::Passed => ("pass", "passed"),
                CheckStatus::Failed => ("fail", "FAILED"),
                CheckStatus::Skipped => ("skipped", "skipped"),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td></tr>",
                escape(&c.name),
                escape(&c.message)
            );
        }
        h.push_str("</tbody></table>");
    }

    h.push_str("<h2>Per category</h2><p class=\"legend\">");
    for (what, color) in BAR_COLORS {
        let _ = write!(h, "<span style=\"background:{color}\"></span>{what}");
    }
    h.push_str("</p>");
    h.push_str(&bar_chart(m));
    h.push_str("<table><thead><tr><th>category</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>TP</th><th>FP</th><th>FN</th></tr></thead><tbody>");
    for (category, p) in &m.category_metrics {
        let c = m.category_counts.get(category).copied().unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(category), p.precision, p.recall, p.f1, p.support, c.tp, c.fp, c.fn_
        );
    }
    h.push_str("</tbody></table>");
    if !m.additional_metrics.is_empty() {
        h.push_str("<h2>Additional metrics</h2><table><tbody>");
        for (k, v) in &m.additional_metrics {
            let _ = write!(
                h,
                "<tr><th>{}</th><td class=\"num\">{v:.4}</td></tr>",
                escape(k)
            );
        }
        h.push_str("</tbody></table>");
    }

    h.push_str("<h2>Baseline comparison</h2>");
    match input.baseline {
        None => h.push_str(
            "<p>No baseline: the active version has no evaluation on this dataset version.</p>",
        ),
        Some(b) => {
            let _ = write!(
                h,
                "<p>Baseline: {}@{} (evaluation {}, {}).</p>",
                escape(input.model_id),
                escape(&b.model_version),
                escape(&b.evaluation_id),
                escape(&b.evaluated_at)
            );
            h.push_str("<table><thead><tr><th>metric</th><th>current</th><th>baseline</th><th>change</th></tr></thead><tbody>");
            for (name, cur, base) in [
                ("macro precision", m.macro_avg.precision, b.precision),
                ("macro recall", m.macro_avg.recall, b.recall),
                ("macro F1", m.macro_avg.f1, b.f1),
            ] {
                let _ = write!(
                    h,
                    "<tr><td>{name}</td><td class=\"num\">{cur:.4}</td>{}</tr>",
                    delta_cell(cur, Some(base))
                );
            }
            for (category, p) in &m.category_metrics {
                let _ = write!(
                    h,
                    "<tr><td>{} F1</td><td class=\"num\">{:.4}</td>{}</tr>",
                    escape(category),
                    p.f1,
                    delta_cell(p.f1, b.category_metrics.get(category).map(|x| x.f1))
                );
            }
            h.push_str("</tbody></table>");
        }
    }
    h.push_str(&error_table("Top false positives", &m.top_false_positives));
    h.push_str(&error_table("Top false negatives", &m.top_false_negatives));
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{evaluate_gate, GatePolicy};
    use crate::metrics::Prf;
    use crate::scoring::{ErrorKind, EvaluationTarget};
    use std::collections::BTreeMap;

    /// Checks that every element is closed in order (void elements aside).
    fn assert_balanced(html: &str) {
        const VOID: [&str; 2] = ["meta", "br"];
        let mut stack: Vec<String> = Vec::new();
        let mut rest = html;
        while let Some(open) = rest.find('<') {
            rest = &rest[open + 1..];
            let close = rest.find('>').expect("unterminated tag");
            let tag = &rest[..close];
            rest = &rest[close + 1..];
            if tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let top = stack.pop().unwrap_or_else(|| panic!("stray </{name}>"));
                assert_eq!(top, name, "mismatched close tag");
            } else {
                let name = tag.split_whitespace().next().unwrap().to_string();
                if !VOID.contains(&name.as_str()) {
                    stack.push(name);
                }
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    fn metrics() -> EvaluationMetrics {
        let prf = |p: f64, r: f64| Prf {
            precision: p,
            recall: r,
            f1: if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            },
            support: 4,
        };
        EvaluationMetrics {
            target: EvaluationTarget::Skills,
            sample_count: 3,
            category_metrics: BTreeMap::from([
                ("databases".to_string(), prf(1.0, 0.5)),
                ("programming_languages".to_string(), prf(0.8, 0.9)),
            ]),
            category_counts: BTreeMap::new(),
            macro_avg: prf(0.9, 0.7),
            micro_avg: prf(0.85, 0.75),
            additional_metrics: BTreeMap::from([("rp_at_5".to_string(), 0.6)]),
            ignored_predictions: 0,
            top_false_positives: vec![ErrorExample {
                kind: ErrorKind::FalsePositive,
                skill: "C<script>".into(),
                category: "programming_languages".into(),
                count: 2,
                example_record_id: "r1".into(),
                snippet: "uses «C<script>» & more".into(),
            }],
            top_false_negatives: vec![],
            notes: vec!["note".into()],
        }
    }

    #[test]
    fn report_is_self_contained_well_formed_and_escaped() {
        let m = metrics();
        let baseline = Baseline {
            evaluation_id: "base-1".into(),
            model_version: "v1.0".into(),
            dataset_version: "sha256:x".into(),
            precision: 0.9,
            recall: 0.8,
            f1: 0.85,
            category_metrics: BTreeMap::from([(
                "databases".to_string(),
                m.category_metrics["databases"],
            )]),
            evaluated_at: "2026-01-01T00:00:00Z".into(),
        };
        let policy = GatePolicy {
            min_f1: Some(0.9),
            max_regression: Some(0.02),
            ..Default::default()
        };
        let gate = evaluate_gate(
            &policy,
            m.macro_avg.f1,
            &m.category_metrics,
            Some(&baseline),
        );
        let html = render_html(&ReportInput {
            evaluation_id: "e-1",
            model_id: "skills_extractor",
            model_version: "v1.1",
            dataset_version: "sha256:x",
            dataset_path: Some("data/labeled/sample.jsonl"),
            evaluated_at: "2026-01-02T00:00:00Z",
            execution_time_seconds: 1.5,
            metrics: &m,
            gate: &gate,
            baseline: Some(&baseline),
        });
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_balanced(&html);
        // No network, no scripts: nothing is fetched when the file opens.
        for forbidden in ["http://", "https://", "src=", "<script", "<link"] {
            assert!(!html.contains(forbidden), "report contains {forbidden}");
        }
        // One bar per category and metric, one axis label per category.
        assert_eq!(html.matches("<rect ").count(), 2 * 3);
        assert!(html.contains(">programming_languages</text>"));
        assert!(html.contains("<mark>C&lt;script&gt;</mark> &amp; more"));
        assert!(html.contains("FAILED") && html.contains("short by"));
        assert!(html.contains("Baseline: skills_extractor@v1.0"));
        // databases F1 unchanged against the baseline; programming_languages has no baseline figure.
        assert!(html.contains("class=\"num same\">±0.0000"));
    }

    #[test]
    fn report_without_baseline_or_thresholds_says_so() {
        let m = metrics();
        let gate = GateOutcome::default();
        let html = render_html(&ReportInput {
            evaluation_id: "e",
            model_id: "m",
            model_version: "v1.0",
            dataset_version: "d",
            dataset_path: None,
            evaluated_at: "t",
            execution_time_seconds: 0.0,
            metrics: &m,
            gate: &gate,
            baseline: None,
        });
        assert_balanced(&html);
        assert!(html.contains("No thresholds configured."));
        assert!(html.contains("No baseline"));
        assert!(html.contains("<h2>Top false negatives</h2><p>None.</p>"));
    }
}
