//! DTM0, the distributed transaction manager of CORTX Motr, as one pure
//! actor implementation that a model checker explores and a UDP runtime
//! runs. See PROTOCOL.md (the spec) for every name used here.

pub mod actor;
pub mod check;
pub mod cluster;
pub mod config;
pub mod ha;
pub mod live;
pub mod model;
pub mod msg;
pub mod originator;
pub mod participant;
pub mod por;
pub mod properties;
pub mod render;
pub mod scenario;
pub mod search;
pub mod suite;
pub mod symmetry;
pub mod table;
pub mod trace;
pub mod types;
