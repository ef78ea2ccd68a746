//! Helpers shared by the integration tests.

pub mod quality;
pub mod small;
