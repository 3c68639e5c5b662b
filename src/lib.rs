//! DTM0, the distributed transaction manager of CORTX Motr, as one pure
//! actor implementation that a model checker explores and a UDP runtime
//! runs.
//!
//! Four rooms, arrows pointing down only (checked by `.ci/arrows`):
//! `protocol` (pure actors) <- `model` (the stateright model, properties,
//! notation) <- `engine` (searches, reports, the suite); `protocol` <-
//! `live` (the UDP runtime). The `dtm0` binary (checker/) sees them all.

pub mod engine;
pub mod live;
pub mod model;
pub mod protocol;
