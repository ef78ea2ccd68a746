//! The shared storage contract run against the BigQuery emulator: each case
//! gets a fresh dataset, migrated to the latest schema (see `common` for how
//! the emulator is found).

mod common;

use jobenrich_storage_bigquery::BigQueryStore;
use jobenrich_storage_contract::{storage_contract_suite, FreshStore, SeedSql, SqlParam};

/// Runs the seed's queries on the same dataset, through a second client.
struct BigQuerySeedSql(BigQueryStore);

#[async_trait::async_trait]
impl SeedSql for BigQuerySeedSql {
    async fn select(
        &self,
        sql: &str,
        params: &[(&str, SqlParam)],
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        let mut texts = Vec::new();
        let mut ints = Vec::new();
        for (name, value) in params {
            match value {
                SqlParam::Text(t) => texts.push((*name, t.as_str())),
                SqlParam::Int(i) => ints.push((*name, *i)),
            }
        }
        self.0
            .select_text(sql, &texts, &ints)
            .await
            .map_err(|e| e.to_string())
    }
}

async fn fresh_bigquery_store() -> FreshStore {
    let (store, guard) = common::fresh_store().await;
    let sql = common::store_at(&common::emulator_url(), guard.dataset()).await;
    FreshStore::with_guard(store, guard).with_sql(BigQuerySeedSql(sql))
}

storage_contract_suite!(fresh_bigquery_store);
