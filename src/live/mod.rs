//! The live prototype: the same `Dtm0` actors as the model, run as real
//! processes over UDP with durable storage. Everything here is I/O at the
//! edge; the protocol stays in `participant`, `originator` and `ha`.

pub mod auth;
pub mod bench;
pub mod boot;
pub mod chaos;
pub mod client;
pub mod disk;
pub mod guard;
pub mod nemesis;
pub mod nemesis_run;
pub mod node;
pub mod procs;
pub mod session;
pub mod spec;
pub mod wire;
