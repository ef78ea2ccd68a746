//! A section of a posting and how relevant it is for skills.

use crate::validation::{non_empty, unit_interval, Validate};
use crate::{ClassificationMethod, JobId, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionClassification {
    /// The seed's row id, a UUID.
    pub classification_id: Uuid,
    pub job_posting_id: JobId,
    /// 0-based order of the section in the posting.
    pub section_index: u32,
    /// The header line as written (`Requirements:`), absent for a leading section.
    pub section_header: Option<String>,
    /// Normalized kind of section (`requirements`, `benefits`, `other`, …).
    pub section_type: String,
    pub section_text: String,
    /// Offsets into the description in Unicode scalar values, `[start, end)`.
    pub start_offset: u32,
    pub end_offset: u32,
    pub is_skills_relevant: bool,
    pub relevance_probability: f64,
    pub classification_method: ClassificationMethod,
    pub classifier_version: String,
    pub created_at: DateTime<Utc>,
}

impl Validate for SectionClassification {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("SectionClassification", "section_text", &self.section_text)?;
        unit_interval(
            "SectionClassification",
            "relevance_probability",
            self.relevance_probability,
        )?;
        non_empty(
            "SectionClassification",
            "classifier_version",
            &self.classifier_version,
        )?;
        if self.end_offset < self.start_offset {
            return Err(ValidationError::new(
                "SectionClassification",
                "end_offset",
                format!(
                    "must be >= start_offset ({}), got {}",
                    self.start_offset, self.end_offset
                ),
            ));
        }
        Ok(())
    }
}
