//! Small, reusable checks that produce `ValidationError`s naming entity, field and rule.

use crate::ValidationError;
use regex::Regex;
use std::sync::OnceLock;

/// Entities that can check their own rules. Every adapter calls `validate`
/// before writing, so an invalid entity never reaches a store.
pub trait Validate {
    fn validate(&self) -> Result<(), ValidationError>;
}

pub(crate) fn unit_interval(
    entity: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), ValidationError> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(ValidationError::new(
            entity,
            field,
            format!("must be in [0, 1], got {v}"),
        ))
    }
}

pub(crate) fn non_negative(
    entity: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), ValidationError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ValidationError::new(
            entity,
            field,
            format!("must be >= 0, got {v}"),
        ))
    }
}

/// Empty or only whitespace: `trim().is_empty()` without decoding from
/// both ends (a writer checks up to 6 strings per skill row: its name and
/// its link labels).
pub(crate) fn blank(v: &str) -> bool {
    v.chars().all(char::is_whitespace)
}

pub(crate) fn non_empty(
    entity: &'static str,
    field: &'static str,
    v: &str,
) -> Result<(), ValidationError> {
    if blank(v) {
        Err(ValidationError::new(entity, field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// NUL characters end strings in C APIs and some stores; they are never text.
pub(crate) fn no_nul(
    entity: &'static str,
    field: &'static str,
    v: &str,
) -> Result<(), ValidationError> {
    if v.contains('\0') {
        Err(ValidationError::new(
            entity,
            field,
            "must not contain NUL characters",
        ))
    } else {
        Ok(())
    }
}

/// Length in Unicode scalar values, not bytes, so `C++` and `日本語` count alike.
pub(crate) fn max_chars(
    entity: &'static str,
    field: &'static str,
    v: &str,
    max: usize,
) -> Result<(), ValidationError> {
    let n = v.chars().count();
    if n > max {
        Err(ValidationError::new(
            entity,
            field,
            format!("must be at most {max} characters, got {n}"),
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn matches(
    entity: &'static str,
    field: &'static str,
    v: &str,
    re: &Regex,
) -> Result<(), ValidationError> {
    if re.is_match(v) {
        Ok(())
    } else {
        Err(ValidationError::new(
            entity,
            field,
            format!("must match {}, got {v:?}", re.as_str()),
        ))
    }
}

pub(crate) fn model_id_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-z_]+$").expect("static regex"))
}

pub(crate) fn model_version_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^v\d+\.\d+(-[a-z0-9-]+)?$").expect("static regex"))
}
