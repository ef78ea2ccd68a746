//! A scraped job posting as ingested.

use crate::validation::{max_chars, no_nul, non_empty, Validate};
use crate::{JobId, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPosting {
    pub job_posting_id: JobId,
    pub title: String,
    pub company: Option<String>,
    pub location: Option<String>,
    /// The posting's full text; offsets of sections and skills point into it.
    pub description: String,
    pub posted_at: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub ingested_at: DateTime<Utc>,
}

impl Validate for JobPosting {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("JobPosting", "title", &self.title)?;
        max_chars("JobPosting", "title", &self.title, 500)?;
        non_empty("JobPosting", "description", &self.description)?;
        // Each text field on its own, so the error names the field at fault.
        let texts = [
            ("job_posting_id", Some(self.job_posting_id.as_str())),
            ("title", Some(self.title.as_str())),
            ("company", self.company.as_deref()),
            ("location", self.location.as_deref()),
            ("description", Some(self.description.as_str())),
            ("source", self.source.as_deref()),
            ("url", self.url.as_deref()),
        ];
        for (field, value) in texts {
            if let Some(v) = value {
                no_nul("JobPosting", field, v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posting() -> JobPosting {
        JobPosting {
            job_posting_id: JobId::parse("j1").unwrap(),
            title: "Engineer".into(),
            company: Some("Acme".into()),
            location: Some("Berlin".into()),
            description: "Rust".into(),
            posted_at: None,
            source: Some("file".into()),
            url: Some("https://example.com/1".into()),
            ingested_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_nul_byte_is_rejected_naming_the_field_it_is_in() {
        assert!(posting().validate().is_ok());
        type Plant = fn(&mut JobPosting);
        let cases: [(&str, Plant); 7] = [
            ("job_posting_id", |p| {
                p.job_posting_id = JobId::parse("j\0x").unwrap()
            }),
            ("title", |p| p.title = "Eng\0ineer".into()),
            ("company", |p| p.company = Some("Ac\0me".into())),
            ("location", |p| p.location = Some("\0".into())),
            ("description", |p| p.description = "Ru\0st".into()),
            ("source", |p| p.source = Some("f\0".into())),
            ("url", |p| p.url = Some("https://x/\0".into())),
        ];
        for (field, plant) in cases {
            let mut p = posting();
            plant(&mut p);
            let err = p.validate().unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.to_string().contains("NUL"), "{err}");
        }
    }
}
