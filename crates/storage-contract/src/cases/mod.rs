//! The contract cases, one `pub async fn` per promise of the ports, grouped by
//! aggregate. Each takes a fresh, migrated store.

mod clusters;
mod embeddings;
mod enrichments;
mod leases;
mod mentions;
mod plans;
mod postings;
mod registry;
mod results;
mod retries;
mod robustness;
mod scale;
mod seed_queries;

pub use clusters::*;
pub use embeddings::*;
pub use enrichments::*;
pub use leases::*;
pub use mentions::*;
pub use plans::*;
pub use postings::*;
pub use registry::*;
pub use results::*;
pub use retries::*;
pub use robustness::*;
pub use scale::*;
pub use seed_queries::*;

use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{DomainError, Store, StoreError};

/// Unwraps a call that must succeed, naming the promise when it does not.
pub(crate) fn ok<T>(store: &dyn Store, result: StoreResult<T>, promise: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!(
            "[{}] promise broken: {promise}: unexpected error: {e}",
            store.backend_name()
        ),
    }
}

/// Asserts a validation failure of `entity`.`field` (`StoreError::Domain`).
pub(crate) fn expect_validation<T: std::fmt::Debug>(
    store: &dyn Store,
    result: StoreResult<T>,
    entity: &str,
    field: &str,
    promise: &str,
) {
    match result {
        Err(StoreError::Domain(DomainError::Validation(v)))
            if v.entity == entity && v.field == field => {}
        other => panic!(
            "[{}] promise broken: {promise}: expected a validation error of {entity}.{field}, got {other:?}",
            store.backend_name()
        ),
    }
}
