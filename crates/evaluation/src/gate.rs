//! The quality gate: absolute thresholds and regression against a baseline,
//! in the spirit of MLflow's `MetricThreshold` (`threshold`,
//! `min_absolute_change`, `min_relative_change`, higher is better).
//!
//! - `min_f1`: the macro F1 must be >= the threshold;
//! - `min_category_f1`: per category, its F1 must be >= the threshold; a
//!   category the dataset does not measure is reported as not measured and
//!   does not fail the gate;
//! - `max_regression`: the macro F1 may drop below the baseline's by at most
//!   this much (absolute, e.g. 0.02 = two points);
//! - `max_relative_regression`: ... by at most this fraction of the baseline.
//!
//! The baseline is the latest evaluation of the model's active version on the
//! same dataset version; without one, regression checks are skipped (and say so).

use crate::metrics::Prf;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the thresholds live in a model config's `config_overrides`.
pub const OVERRIDES_KEY: &str = "evaluation";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_f1: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_category_f1: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_regression: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_relative_regression: Option<f64>,
}

impl GatePolicy {
    /// Reads `config_overrides.evaluation` (`{"min_f1": 0.5, "min_category_f1":
    /// {"databases": 0.6}, "max_regression": 0.02}`); absent means no thresholds.
    pub fn from_overrides(
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<GatePolicy, String> {
        let policy = match overrides.get(OVERRIDES_KEY) {
            None => GatePolicy::default(),
            Some(v) => serde_json::from_value::<GatePolicy>(v.clone())
                .map_err(|e| format!("config_overrides.{OVERRIDES_KEY}: {e}"))?,
        };
        policy.check()?;
        Ok(policy)
    }

    /// Every threshold must be a number in [0, 1].
    pub fn check(&self) -> Result<(), String> {
        let unit = |name: String, v: f64| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be in [0, 1], got {v}"))
            }
        };
        if let Some(v) = self.min_f1 {
            unit("min_f1".into(), v)?;
        }
        if let Some(v) = self.max_regression {
            unit("max_regression".into(), v)?;
        }
        if let Some(v) = self.max_relative_regression {
            unit("max_relative_regression".into(), v)?;
        }
        for (c, v) in &self.min_category_f1 {
            unit(format!("min_category_f1.{c}"), *v)?;
        }
        Ok(())
    }

    /// `other`'s thresholds win where it sets one (command-line flags over
    /// the model config).
    pub fn overridden_by(mut self, other: &GatePolicy) -> GatePolicy {
        self.min_f1 = other.min_f1.or(self.min_f1);
        self.max_regression = other.max_regression.or(self.max_regression);
        self.max_relative_regression = other
            .max_relative_regression
            .or(self.max_relative_regression);
        for (c, v) in &other.min_category_f1 {
            self.min_category_f1.insert(c.clone(), *v);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.min_f1.is_none()
            && self.min_category_f1.is_empty()
            && self.max_regression.is_none()
            && self.max_relative_regression.is_none()
    }
}

/// The evaluation compared against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub evaluation_id: String,
    pub model_version: String,
    pub dataset_version: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub category_metrics: BTreeMap<String, Prf>,
    /// RFC 3339.
    pub evaluated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Not measurable here (no baseline, category absent); does not fail the gate.
    Skipped,
}

/// One threshold and how the evaluation fared against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdCheck {
    /// `min_f1`, `min_category_f1.databases`, `max_regression`, …
    pub name: String,
    pub status: CheckStatus,
    pub observed: Option<f64>,
    pub limit: f64,
    /// Human sentence: what was compared and by how much it missed.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    pub checks: Vec<ThresholdCheck>,
}

impl GateOutcome {
    /// `None` when no threshold was configured (stored as `threshold_passed: null`).
    pub fn passed(&self) -> Option<bool> {
        if self.checks.is_empty() {
            None
        } else {
            Some(self.checks.iter().all(|c| c.status != CheckStatus::Failed))
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &ThresholdCheck> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
    }
}

fn minimum(name: String, what: &str, observed: f64, limit: f64) -> ThresholdCheck {
    let passed = observed >= limit;
    ThresholdCheck {
        message: if passed {
            format!("{what} {observed:.4} >= {limit:.4}")
        } else {
            format!(
                "{what} {observed:.4} < {limit:.4} (short by {:.4})",
                limit - observed
            )
        },
        name,
        status: if passed {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        },
        observed: Some(observed),
        limit,
    }
}

/// Applies `policy` to the macro F1 and per-category F1 of an evaluation.
pub fn evaluate_gate(
    policy: &GatePolicy,
    macro_f1: f64,
    category_metrics: &BTreeMap<String, Prf>,
    baseline: Option<&Baseline>,
) -> GateOutcome {
    let mut checks = Vec::new();
    if let Some(limit) = policy.min_f1 {
        checks.push(minimum("min_f1".into(), "macro F1", macro_f1, limit));
    }
    for (category, limit) in &policy.min_category_f1 {
        let name = format!("min_category_f1.{category}");
        match category_metrics.get(category) {
            Some(m) => checks.push(minimum(name, &format!("{category} F1"), m.f1, *limit)),
            None => checks.push(ThresholdCheck {
                name,
                status: CheckStatus::Skipped,
                observed: None,
                limit: *limit,
                message: format!(
                    "{category} is not measured by this dataset (no gold, no predictions)"
                ),
            }),
        }
    }
    let regression_limits = [
        ("max_regression", policy.max_regression, false),
        (
            "max_relative_regression",
            policy.max_relative_regression,
            true,
        ),
    ];
    for (name, limit, relative) in regression_limits {
        let Some(limit) = limit else { continue };
        let Some(base) = baseline else {
            checks.push(ThresholdCheck {
                name: name.into(),
                status: CheckStatus::Skipped,
                observed: None,
                limit,
                message:
                    "no baseline: the active version has no evaluation on this dataset version"
                        .into(),
            });
            continue;
        };
        let delta = macro_f1 - base.f1;
        let drop = if relative {
            if base.f1 > 0.0 {
                -delta / base.f1
            } else {
                0.0
            }
        } else {
            -delta
        };
        let passed = drop <= limit + 1e-12;
        let unit = if relative { " of the baseline" } else { "" };
        checks.push(ThresholdCheck {
            name: name.into(),
            status: if passed {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            },
            observed: Some(drop.max(0.0)),
            limit,
            message: format!(
                "macro F1 {macro_f1:.4} vs baseline {} {:.4}: change {} ({:+.2}%){}",
                base.model_version,
                base.f1,
                crate::signed_delta(delta),
                if base.f1 > 0.0 {
                    100.0 * delta / base.f1
                } else {
                    0.0
                },
                if passed {
                    format!(", allowed drop {limit:.4}{unit}")
                } else {
                    format!(
                        ", drop {:.4}{unit} exceeds the allowed {limit:.4} by {:.4}",
                        drop,
                        drop - limit
                    )
                }
            ),
        });
    }
    GateOutcome { checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prf(f1: f64) -> Prf {
        Prf {
            precision: f1,
            recall: f1,
            f1,
            support: 1,
        }
    }

    fn baseline(f1: f64) -> Baseline {
        Baseline {
            evaluation_id: "b".into(),
            model_version: "v1.0".into(),
            dataset_version: "d".into(),
            precision: f1,
            recall: f1,
            f1,
            category_metrics: BTreeMap::new(),
            evaluated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn no_thresholds_means_no_verdict() {
        let g = evaluate_gate(&GatePolicy::default(), 0.1, &BTreeMap::new(), None);
        assert_eq!(g.passed(), None);
    }

    #[test]
    fn absolute_thresholds_say_by_how_much_they_failed() {
        let policy = GatePolicy {
            min_f1: Some(0.5),
            min_category_f1: BTreeMap::from([
                ("databases".to_string(), 0.6),
                ("certifications".to_string(), 0.9),
            ]),
            ..Default::default()
        };
        let cats = BTreeMap::from([("databases".to_string(), prf(0.7))]);
        let g = evaluate_gate(&policy, 0.43, &cats, None);
        assert_eq!(g.passed(), Some(false));
        let failed: Vec<_> = g.failures().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].name, "min_f1");
        assert!(
            failed[0].message.contains("short by 0.0700"),
            "{}",
            failed[0].message
        );
        let skipped = g
            .checks
            .iter()
            .find(|c| c.name == "min_category_f1.certifications")
            .unwrap();
        assert_eq!(skipped.status, CheckStatus::Skipped);
        assert_eq!(
            evaluate_gate(&policy, 0.5, &cats, None).passed(),
            Some(true)
        );
    }

    #[test]
    fn regression_is_absolute_and_relative_against_the_baseline() {
        let policy = GatePolicy {
            max_regression: Some(0.02),
            max_relative_regression: Some(0.05),
            ..Default::default()
        };
        // 0.80 -> 0.77: drop 0.03 > 0.02 (fails), relative 3.75% <= 5% (passes)
        let g = evaluate_gate(&policy, 0.77, &BTreeMap::new(), Some(&baseline(0.80)));
        let abs = &g.checks[0];
        assert_eq!(abs.status, CheckStatus::Failed);
        assert!(
            abs.message.contains("exceeds the allowed 0.0200 by 0.0100"),
            "{}",
            abs.message
        );
        assert_eq!(g.checks[1].status, CheckStatus::Passed);
        // exactly at the limit passes; an improvement passes
        assert_eq!(
            evaluate_gate(&policy, 0.78, &BTreeMap::new(), Some(&baseline(0.80))).passed(),
            Some(true)
        );
        assert_eq!(
            evaluate_gate(&policy, 0.9, &BTreeMap::new(), Some(&baseline(0.80))).passed(),
            Some(true)
        );
        // no baseline: skipped, the gate passes
        let g = evaluate_gate(&policy, 0.1, &BTreeMap::new(), None);
        assert!(g.checks.iter().all(|c| c.status == CheckStatus::Skipped));
        assert_eq!(g.passed(), Some(true));
    }

    #[test]
    fn policy_reads_from_overrides_and_flags_win() {
        let overrides = json!({"evaluation": {"min_f1": 0.4, "min_category_f1": {"databases": 0.6}}, "weights": {}});
        let p = GatePolicy::from_overrides(overrides.as_object().unwrap()).unwrap();
        assert_eq!(p.min_f1, Some(0.4));
        let flags = GatePolicy {
            min_f1: Some(0.5),
            ..Default::default()
        };
        let merged = p.overridden_by(&flags);
        assert_eq!(merged.min_f1, Some(0.5));
        assert_eq!(merged.min_category_f1["databases"], 0.6);
        let bad = json!({"evaluation": {"min_f1": 2.0}});
        assert!(GatePolicy::from_overrides(bad.as_object().unwrap())
            .unwrap_err()
            .contains("min_f1"));
        let typo = json!({"evaluation": {"min_f": 0.2}});
        assert!(GatePolicy::from_overrides(typo.as_object().unwrap()).is_err());
    }
}
