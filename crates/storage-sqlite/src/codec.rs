//! Conversions between domain values and SQLite columns: timestamps as
//! INTEGER microseconds since the epoch (UTC), lists and maps as JSON text,
//! closed vocabularies by their snake_case names, booleans as 0/1.

use chrono::{DateTime, Utc};
use jobenrich_domain::StoreError;
use serde::{de::DeserializeOwned, Serialize};
use std::str::FromStr;

/// Microseconds since the Unix epoch; sub-microsecond precision is dropped.
pub fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn ts_opt(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ts)
}

pub fn from_ts(entity: &'static str, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Corrupt {
        entity,
        key: micros.to_string(),
        reason: "timestamp out of range".to_string(),
    })
}

pub fn from_ts_opt(
    entity: &'static str,
    micros: Option<i64>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    micros.map(|m| from_ts(entity, m)).transpose()
}

pub fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

pub fn from_json<T: DeserializeOwned>(
    entity: &'static str,
    key: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        entity,
        key: key.to_string(),
        reason: format!("invalid JSON column: {e}"),
    })
}

/// Parses a stored name of a closed vocabulary or id newtype.
pub fn parse_name<T>(entity: &'static str, key: &str, text: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| StoreError::Corrupt {
        entity,
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// Parses a stored seed id (a UUID).
pub fn parse_uuid(
    entity: &'static str,
    key: &str,
    text: &str,
) -> Result<jobenrich_domain::Uuid, StoreError> {
    jobenrich_domain::Uuid::parse_str(text).map_err(|e| StoreError::Corrupt {
        entity,
        key: key.to_string(),
        reason: format!("invalid UUID {text:?}: {e}"),
    })
}

/// Parses an optional stored seed id.
pub fn parse_uuid_opt(
    entity: &'static str,
    key: &str,
    text: Option<String>,
) -> Result<Option<jobenrich_domain::Uuid>, StoreError> {
    text.map(|t| parse_uuid(entity, key, &t)).transpose()
}

/// A stored id read as it is kept in the data tables: a 16-byte BLOB, or
/// text for a legacy id (migration 10).
pub fn uuid_from_value(
    entity: &'static str,
    key: &str,
    value: rusqlite::types::ValueRef<'_>,
) -> Result<Option<jobenrich_domain::Uuid>, StoreError> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => jobenrich_domain::Uuid::from_slice(b)
            .map(Some)
            .map_err(corrupt(entity, key)),
        ValueRef::Text(t) => parse_uuid(entity, key, &String::from_utf8_lossy(t)).map(Some),
        other => Err(StoreError::Corrupt {
            entity,
            key: key.to_string(),
            reason: format!("an id stored as {:?}", other.data_type()),
        }),
    }
}

/// Wraps a validation failure of a stored value as a corrupt row.
pub fn corrupt<'k, E: std::fmt::Display>(
    entity: &'static str,
    key: &'k str,
) -> impl FnOnce(E) -> StoreError + 'k {
    move |e| StoreError::Corrupt {
        entity,
        key: key.to_string(),
        reason: e.to_string(),
    }
}

/// A JSON array of strings, bound as one parameter and expanded with `json_each`.
pub fn json_list<I, S>(items: I) -> Result<String, StoreError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    to_json(&v)
}

/// One column of a row, with the error mapped.
pub fn get<T: rusqlite::types::FromSql>(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> Result<T, StoreError> {
    row.get(idx).map_err(crate::error::map_sqlite)
}

/// Converts every row with `f`.
pub fn collect_rows<T>(
    mut rows: rusqlite::Rows<'_>,
    mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(crate::error::map_sqlite)? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// Rows per `enrichment_version` of a result table, by version. `table` is
/// one of the adapter's own table names (a constant, never input: table
/// names cannot be bound as parameters).
pub fn version_counts(
    conn: &rusqlite::Connection,
    table: &'static str,
    entity: &'static str,
) -> Result<Vec<(jobenrich_domain::EnrichmentVersion, u64)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT enrichment_version, COUNT(*) FROM {table}
             GROUP BY enrichment_version ORDER BY enrichment_version"
        ))
        .map_err(crate::error::map_sqlite)?;
    let rows = stmt.query([]).map_err(crate::error::map_sqlite)?;
    collect_rows(rows, |row| {
        let v: String = get(row, 0)?;
        let version =
            jobenrich_domain::EnrichmentVersion::parse(v.clone()).map_err(corrupt(entity, &v))?;
        Ok((version, get::<i64>(row, 1)? as u64))
    })
}

/// A stored `usize` limit as SQLite's i64.
pub fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_keep_microseconds_and_sort_as_integers() {
        let t = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let stored = ts(t);
        let back = from_ts("X", stored).unwrap();
        assert_eq!(back.timestamp_subsec_micros(), 123_456);
        assert_eq!(
            back,
            t - chrono::Duration::nanoseconds(789),
            "sub-microsecond part is dropped"
        );
        let later = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert!(
            ts(t) < ts(later),
            "pre-epoch instants sort before later ones"
        );
    }

    #[test]
    fn corrupt_json_names_the_entity_and_key() {
        let err = from_json::<Vec<String>>("ExtractedSkill", "j1/Rust", "[1").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ExtractedSkill") && text.contains("j1/Rust"),
            "{text}"
        );
    }
}
