//! The shared storage contract run against SQLite: each case gets a new
//! database file in its own temporary directory, migrated to the latest schema.

use jobenrich_domain::SchemaMigrator;
use jobenrich_storage_contract::{storage_contract_suite, FreshStore, SeedSql, SqlParam};
use jobenrich_storage_sqlite::SqliteStore;
use rusqlite::types::ValueRef;
use std::path::PathBuf;

/// Runs the seed's queries on the store's file through a connection of its own.
struct SqliteSeedSql(PathBuf);

#[async_trait::async_trait]
impl SeedSql for SqliteSeedSql {
    async fn select(
        &self,
        sql: &str,
        params: &[(&str, SqlParam)],
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        let conn = rusqlite::Connection::open(&self.0).map_err(|e| e.to_string())?;
        let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
        let names: Vec<String> = params.iter().map(|(n, _)| format!("@{n}")).collect();
        let values: Vec<rusqlite::types::Value> = params
            .iter()
            .map(|(_, v)| match v {
                SqlParam::Text(t) => rusqlite::types::Value::Text(t.clone()),
                SqlParam::Int(i) => rusqlite::types::Value::Integer(*i),
            })
            .collect();
        let bound: Vec<(&str, &dyn rusqlite::ToSql)> = names
            .iter()
            .zip(&values)
            .map(|(n, v)| (n.as_str(), v as &dyn rusqlite::ToSql))
            .collect();
        let columns = stmt.column_count();
        let mut rows = stmt.query(bound.as_slice()).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            let mut cells = Vec::with_capacity(columns);
            for i in 0..columns {
                cells.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                    ValueRef::Null => None,
                    ValueRef::Integer(v) => Some(v.to_string()),
                    ValueRef::Real(v) => Some(v.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Some(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(cells);
        }
        Ok(out)
    }
}

async fn fresh_sqlite_store() -> FreshStore {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let path = dir.path().join("contract.db");
    let store = SqliteStore::open(&path).expect("opening the test database");
    store.migrate().await.expect("migrating the test database");
    FreshStore::with_guard(store, dir).with_sql(SqliteSeedSql(path))
}

storage_contract_suite!(fresh_sqlite_store);
