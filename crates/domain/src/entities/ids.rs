//! Identifier newtypes that can only hold valid values.

use crate::validation::{matches, max_chars, model_id_regex, model_version_regex, non_empty};
use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $entity:literal, $field:literal, |$v:ident| $check:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
                let $v: String = value.into();
                $check?;
                Ok(Self($v))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub const ENTITY: &'static str = $entity;
            pub const FIELD: &'static str = $field;
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(v: String) -> Result<Self, Self::Error> {
                Self::parse(v)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A job posting's id as the source gives it (non-empty, at most 200 characters).
    JobId, "JobPosting", "job_posting_id",
    |v| non_empty("JobPosting", "job_posting_id", &v)
        .and_then(|_| max_chars("JobPosting", "job_posting_id", &v, 200))
);

string_id!(
    /// A model id: `^[a-z_]+$` (e.g. `skills_extractor`).
    ModelId, "ModelConfig", "model_id",
    |v| matches("ModelConfig", "model_id", &v, model_id_regex())
);

string_id!(
    /// A model version: `^v\d+\.\d+(-[a-z0-9-]+)?$` (e.g. `v1.2`, `v2.0-rc-1`).
    ModelVersion, "ModelConfig", "version",
    |v| matches("ModelConfig", "version", &v, model_version_regex())
);

impl ModelVersion {
    /// (major, minor, suffix) for ordering versions numerically (`v1.10 > v1.9`);
    /// a pre-release suffix sorts before the plain version.
    pub fn sort_key(&self) -> (u64, u64, bool, String) {
        let body = &self.0[1..];
        let (nums, suffix) = match body.split_once('-') {
            Some((n, s)) => (n, Some(s)),
            None => (body, None),
        };
        let (major, minor) = nums.split_once('.').unwrap_or((nums, "0"));
        (
            major.parse().unwrap_or(0),
            minor.parse().unwrap_or(0),
            suffix.is_none(),
            suffix.unwrap_or("").to_string(),
        )
    }
}

/// The version an enrichment was produced at. For models it is
/// `<model_id>@<version>`; rows from before versioning carry `legacy`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnrichmentVersion(String);

impl EnrichmentVersion {
    pub const LEGACY: &'static str = "legacy";

    pub fn legacy() -> Self {
        Self(Self::LEGACY.to_string())
    }

    pub fn for_model(model_id: &ModelId, version: &ModelVersion) -> Self {
        Self(format!("{model_id}@{version}"))
    }

    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let v: String = value.into();
        non_empty("JobEnrichment", "enrichment_version", &v)?;
        max_chars("JobEnrichment", "enrichment_version", &v, 120)?;
        Ok(Self(v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EnrichmentVersion {
    type Error = ValidationError;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::parse(v)
    }
}

impl From<EnrichmentVersion> for String {
    fn from(v: EnrichmentVersion) -> String {
        v.0
    }
}

impl fmt::Display for EnrichmentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_and_versions_follow_the_documented_patterns() {
        assert!(ModelId::parse("skills_extractor").is_ok());
        let e = ModelId::parse("Skills-1").unwrap_err();
        assert_eq!((e.entity, e.field), ("ModelConfig", "model_id"));
        assert!(e.rule.contains("^[a-z_]+$"), "{e}");
        for ok in ["v1.0", "v12.34", "v2.0-rc-1", "v1.1-exp2"] {
            assert!(ModelVersion::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["1.0", "v1", "v1.0-RC", "v1.0.1", "v1.0-", "v1.0_x"] {
            assert!(ModelVersion::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<ModelVersion>("\"x\"").is_err());
    }

    #[test]
    fn versions_sort_numerically_with_prereleases_first() {
        let mut v: Vec<ModelVersion> = ["v1.10", "v1.9", "v2.0", "v2.0-rc-1", "v0.1"]
            .iter()
            .map(|s| ModelVersion::parse(*s).unwrap())
            .collect();
        v.sort_by_key(|x| x.sort_key());
        let got: Vec<&str> = v.iter().map(|x| x.as_str()).collect();
        assert_eq!(got, ["v0.1", "v1.9", "v1.10", "v2.0-rc-1", "v2.0"]);
    }

    #[test]
    fn job_ids_must_be_non_empty() {
        assert!(JobId::parse("  ").is_err());
        assert_eq!(
            EnrichmentVersion::for_model(
                &ModelId::parse("a").unwrap(),
                &ModelVersion::parse("v1.0").unwrap()
            )
            .as_str(),
            "a@v1.0"
        );
    }
}
