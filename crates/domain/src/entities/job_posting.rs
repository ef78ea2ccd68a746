//! A scraped job posting as ingested.

use crate::validation::{max_chars, non_empty, Validate};
use crate::{JobId, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPosting {
    pub id: JobId,
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
        if self.description.contains('\0') || self.title.contains('\0') {
            return Err(ValidationError::new(
                "JobPosting",
                "description",
                "must not contain NUL characters",
            ));
        }
        Ok(())
    }
}
