//! Semantic partial-order reduction (issue 11, items 1, 2 and the
//! independence checks of item 5): conditional independence of actions of
//! one actor, decided from their kinds and the receiver's state, and a
//! stubborn-set closure computed from the current state that uses it.
//!
//! Theory (Valmari's stubborn sets, in Godefroid's persistent-set form).
//! A set `T` of actions (some enabled, some not yet enabled) is closed when
//! (1) for every enabled action `t` of `T`, every action that may be
//! dependent with `t` at some state reachable from `s` by actions outside
//! `T` is in `T`, and (2) for every disabled action of `T`, a necessary
//! enabling set (actions one of which any path enabling it must take) is
//! in `T`. The enabled actions of such a `T` are a persistent set at `s`.
//! Actions are grouped by the actor they belong to (a delivery to its
//! receiver, a timeout, crash or restart to its actor). Actions of
//! different actors commute and neither disables the other (each touches
//! its own actor's state and storage, removes its own message and appends
//! to its own outgoing channels), except crashes and restarts coupled by
//! `max_concurrent_crashes`. Actions of one actor are dependent unless the
//! table below (`indep`) says otherwise, from the two actions' kinds,
//! messages and facts of the receiver's state that no action outside `T`
//! can change (the receiver does not crash or restart along those paths:
//! its crash is in `T` whenever one of its actions is, or it cannot crash).
//!
//! Future actions of an actor `X` of `T` are deliveries of messages not
//! yet deliverable (queued behind a channel's head on an ordered network,
//! or not yet sent) and its commit timeout once set. A future delivery of a
//! kind dependent with an action of `T` at `X` must be kept from happening:
//! on an ordered network by putting the channel's head in `T` (nothing
//! overtakes it); otherwise, if the sender may send that kind to `X` at all
//! (the may-send table, an over-approximation of every send along every
//! path from `s`), by putting in `T` what must happen first for the sender
//! to send it (the trigger table: the kinds of deliveries that make a
//! handler send that kind), recursively. An actor whose crash is in `T` is
//! frozen: all its enabled actions join `T` and every delivery to it is
//! kept from happening.
//!
//! Visibility is ignored here (properties are made local to steps
//! elsewhere). Sets are never empty at a state with an enabled action, so
//! terminal states are kept.

mod checks;
mod closure;
mod context;
mod facts;
mod table;

pub use checks::{check_independence, check_sends, check_state, reduced_dfs, Run};
pub use closure::{actions, claimed_independent, enabled, explain, stubborn_set};
pub use context::Ctx;
pub use table::*;
