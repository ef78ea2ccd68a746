//! `AliasRepository` over `skill_aliases`. Uniqueness is case-insensitive via
//! the `alias_key` column (Unicode lower case, trimmed) and its unique index.

use crate::codec::{collect_rows, from_ts, get, parse_name, parse_uuid, ts};
use crate::error::{is_unique_violation, map_sqlite};
use crate::SqliteStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{AliasRepository, AliasUpsertCounts, SkillAlias, StoreError};
use rusqlite::{params, Row};

const COLUMNS: &str = "alias_text, canonical_name, skill_category, confidence, source, is_active, \
     created_at, updated_at, alias_id, created_by";

const E: &str = "SkillAlias";

fn alias_from_row(row: &Row<'_>) -> StoreResult<SkillAlias> {
    let text: String = get(row, 0)?;
    Ok(SkillAlias {
        canonical_name: get(row, 1)?,
        skill_category: parse_name(E, &text, &get::<String>(row, 2)?)?,
        confidence: get(row, 3)?,
        source: parse_name(E, &text, &get::<String>(row, 4)?)?,
        is_active: get(row, 5)?,
        created_at: from_ts(E, get(row, 6)?)?,
        updated_at: from_ts(E, get(row, 7)?)?,
        alias_id: parse_uuid(E, &text, &get::<String>(row, 8)?)?,
        created_by: get(row, 9)?,
        alias_text: text,
    })
}

const INSERT_SQL: &str = "INSERT INTO skill_aliases (alias_key, alias_text, canonical_name, \
     skill_category, confidence, source, is_active, created_at, updated_at, alias_id, created_by) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

fn insert(conn: &rusqlite::Connection, a: &SkillAlias) -> rusqlite::Result<usize> {
    conn.prepare_cached(INSERT_SQL)?.execute(params![
        SkillAlias::normalized_key(&a.alias_text),
        a.alias_text,
        a.canonical_name,
        a.skill_category.as_str(),
        a.confidence,
        a.source.as_str(),
        a.is_active,
        ts(a.created_at),
        ts(a.updated_at),
        a.alias_id.to_string(),
        a.created_by,
    ])
}

#[async_trait]
impl AliasRepository for SqliteStore {
    async fn add_alias(&self, alias: &SkillAlias) -> StoreResult<()> {
        alias.validate()?;
        let alias = alias.clone();
        self.with_write_tx(move |tx| {
            match insert(tx, &alias) {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::AlreadyExists {
                        entity: E,
                        key: alias.alias_text.clone(),
                    })
                }
                Err(e) => return Err(map_sqlite(e)),
            }
            Ok(())
        })
        .await
    }

    async fn upsert_aliases(&self, aliases: &[SkillAlias]) -> StoreResult<AliasUpsertCounts> {
        for a in aliases {
            a.validate()?;
        }
        let aliases = aliases.to_vec();
        self.with_write_tx(move |tx| {
            let mut counts = AliasUpsertCounts::default();
            {
                // The original id, created_at and created_by of an existing alias are kept.
                let mut update = tx
                    .prepare_cached(
                        "UPDATE skill_aliases SET alias_text = ?2, canonical_name = ?3,
                             skill_category = ?4, confidence = ?5, source = ?6, is_active = ?7,
                             updated_at = ?8
                         WHERE alias_key = ?1",
                    )
                    .map_err(map_sqlite)?;
                for a in &aliases {
                    let updated = update
                        .execute(params![
                            SkillAlias::normalized_key(&a.alias_text),
                            a.alias_text,
                            a.canonical_name,
                            a.skill_category.as_str(),
                            a.confidence,
                            a.source.as_str(),
                            a.is_active,
                            ts(a.updated_at),
                        ])
                        .map_err(map_sqlite)?;
                    if updated > 0 {
                        counts.updated += 1;
                    } else {
                        insert(tx, a).map_err(map_sqlite)?;
                        counts.inserted += 1;
                    }
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn get_alias(&self, alias_text: &str) -> StoreResult<Option<SkillAlias>> {
        let key = SkillAlias::normalized_key(alias_text);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM skill_aliases WHERE alias_key = ?1"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![key]).map_err(map_sqlite)?;
            Ok(collect_rows(rows, alias_from_row)?.pop())
        })
        .await
    }

    async fn list_aliases(&self, active_only: bool) -> StoreResult<Vec<SkillAlias>> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM skill_aliases
                     WHERE ?1 = 0 OR is_active = 1 ORDER BY alias_key"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![active_only]).map_err(map_sqlite)?;
            collect_rows(rows, alias_from_row)
        })
        .await
    }

    async fn deactivate_alias(
        &self,
        alias_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SkillAlias> {
        let key = SkillAlias::normalized_key(alias_text);
        let text = alias_text.to_string();
        self.with_write_tx(move |tx| {
            let alias = {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "UPDATE skill_aliases SET is_active = 0, updated_at = MAX(?2, created_at)
                         WHERE alias_key = ?1 RETURNING {COLUMNS}"
                    ))
                    .map_err(map_sqlite)?;
                let rows = stmt.query(params![key, ts(now)]).map_err(map_sqlite)?;
                collect_rows(rows, alias_from_row)?.pop()
            };
            let alias = alias.ok_or(StoreError::NotFound {
                entity: E,
                key: text,
            })?;
            Ok(alias)
        })
        .await
    }
}
