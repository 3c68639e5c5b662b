//! The protocol: pure actors (participant, originator, HA) and what they
//! exchange. No I/O, no clock, nothing of the checker or the CLI: the model
//! checker and the live runtime are two drivers of the same `Dtm0` actor.

pub mod actor;
pub mod cluster;
pub mod ha;
pub mod msg;
pub mod mutant;
pub mod originator;
pub mod participant;
pub mod storelog;
pub mod types;
