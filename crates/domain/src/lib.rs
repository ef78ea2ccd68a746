//! The jobenrich domain: entities that can only be built valid, the enrichment
//! state machine, typed errors and the repository ports every store implements.
//! Nothing here performs I/O.

pub mod activation_rules;
pub mod encoder;
pub mod entities;
pub mod error;
pub mod kinds;
pub mod ports;
pub mod queue_rules;
pub mod text;
pub mod validation;

pub use activation_rules::{activation_refusal, forced_activation_actor, ActivationRefusal};
pub use encoder::{EncoderError, EncoderKind, TextEncoder};
pub use entities::*;
pub use error::{DomainError, StoreError, ValidationError};
pub use kinds::*;
pub use ports::*;
pub use queue_rules::{pending_is_removable, stuck_reason, StuckReason};
/// The seed's ids (`enrichment_id`, `skill_id`, …) are UUIDs.
pub use uuid::Uuid;
