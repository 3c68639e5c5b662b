//! The one `Actor` that both drivers run: the model checker explores it,
//! the UDP runtime executes it. It dispatches to the protocol modules by
//! the process it is; none of them does I/O.

use crate::protocol::cluster::{Cluster, Proc};
use crate::protocol::ha::{self, HaState};
use crate::protocol::msg::{Msg, Timer};
use crate::protocol::originator::{self, OrigState, OrigStore};
use crate::protocol::participant::{self, PartState, PartStore};
use serde::{Deserialize, Serialize};
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Dtm0 {
    pub cluster: Arc<Cluster>,
    pub proc: Proc,
}

/// The state of one process. The variant order matches the actor order
/// (participants, then originators, then HA), so sorting actor states for
/// symmetry never moves a state to an actor of another kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dtm0State {
    Participant(PartState),
    Originator(OrigState),
    Ha(HaState),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dtm0Store {
    Participant(PartStore),
    Originator(OrigStore),
}

impl Dtm0State {
    pub fn participant(&self) -> Option<&PartState> {
        match self {
            Dtm0State::Participant(s) => Some(s),
            _ => None,
        }
    }
    pub fn originator(&self) -> Option<&OrigState> {
        match self {
            Dtm0State::Originator(s) => Some(s),
            _ => None,
        }
    }
    pub fn ha(&self) -> Option<&HaState> {
        match self {
            Dtm0State::Ha(s) => Some(s),
            _ => None,
        }
    }
}

impl Dtm0Store {
    pub fn participant(&self) -> Option<&PartStore> {
        match self {
            Dtm0Store::Participant(s) => Some(s),
            _ => None,
        }
    }
    pub fn originator(&self) -> Option<&OrigStore> {
        match self {
            Dtm0Store::Originator(s) => Some(s),
            _ => None,
        }
    }
}

/// Asks the driver for the commit (`Timer::Commit`). The protocol only asks
/// for the timer; when it fires is the driver's business: the live runtime
/// fires it `commit_delay_ms` after it is first set, whatever the range,
/// and the model checker fires a set timer at any point of any path.
pub fn set_commit_timer(o: &mut Out<Dtm0>) {
    o.set_timer(Timer::Commit, commit_timeout());
}

/// The one place the model's timeout is chosen: stateright's
/// `model_timeout`, an arbitrary range that the model checker ignores.
fn commit_timeout() -> Range<Duration> {
    model_timeout()
}

/// The range of `Timer::Fail` (a participant failing for good): only
/// models set it, and the model checker ignores the range.
pub fn fail_timeout() -> Range<Duration> {
    model_timeout()
}

/// The range of `Timer::Send` (an originator's next EXECUTE): as the
/// commit's, ignored by the model checker; the live runtime fires it at
/// once.
pub fn send_timeout() -> Range<Duration> {
    model_timeout()
}

/// Runs a handler on the inner state of one kind, writing back only if it
/// changed (so that an unchanged state stays borrowed, as stateright
/// expects of a no-op).
macro_rules! with_inner {
    ($state:expr, $variant:ident, |$inner:ident| $body:expr) => {{
        if matches!(&*$state, Cow::Owned(Dtm0State::$variant(_))) {
            // Owned (the live runtime): hand the inner state over, so the
            // protocol mutates it in place instead of cloning it.
            let Cow::Owned(Dtm0State::$variant(owned)) =
                std::mem::replace($state, Cow::Owned(Dtm0State::Ha(placeholder())))
            else {
                unreachable!("checked above")
            };
            let mut $inner = Cow::Owned(owned);
            $body;
            *$state = Cow::Owned(Dtm0State::$variant($inner.into_owned()));
        } else if let Dtm0State::$variant(s) = &**$state {
            let mut $inner = Cow::Borrowed(s);
            $body;
            if let Cow::Owned(next) = $inner {
                *$state = Cow::Owned(Dtm0State::$variant(next));
            }
        }
    }};
}

/// A cheap stand-in while an inner state is handed over.
fn placeholder() -> HaState {
    HaState {
        seq: 0,
        table: crate::protocol::msg::HaTable(Vec::new()),
    }
}

impl Dtm0State {
    /// The same stand-in as a whole state (the live runtime holds it while
    /// the actor works on the real one).
    pub fn placeholder() -> Dtm0State {
        Dtm0State::Ha(placeholder())
    }
}

impl Actor for Dtm0 {
    type Msg = Msg;
    type Timer = Timer;
    type State = Dtm0State;
    type Storage = Dtm0Store;
    type Random = ();

    fn on_start(&self, _id: Id, storage: &Option<Dtm0Store>, o: &mut Out<Self>) -> Dtm0State {
        let c = &self.cluster;
        match self.proc {
            Proc::Participant(p) => {
                let st = storage.as_ref().and_then(|s| s.participant().cloned());
                Dtm0State::Participant(participant::on_start(c, p, &st, o))
            }
            Proc::Originator(slot) => {
                let st = storage.as_ref().and_then(|s| s.originator().cloned());
                Dtm0State::Originator(originator::on_start(c, slot, &st, o))
            }
            Proc::Ha => Dtm0State::Ha(ha::on_start(c)),
        }
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<Dtm0State>, src: Id, msg: Msg, o: &mut Out<Self>) {
        let c = &self.cluster;
        match self.proc {
            Proc::Participant(p) => with_inner!(state, Participant, |s| participant::on_msg(
                c, p, &mut s, src, msg, o
            )),
            Proc::Originator(_) => {
                with_inner!(state, Originator, |s| originator::on_msg(
                    c, &mut s, src, msg, o
                ))
            }
            Proc::Ha => with_inner!(state, Ha, |s| ha::on_msg(c, &mut s, src, msg, o)),
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<Dtm0State>, timer: &Timer, o: &mut Out<Self>) {
        let c = &self.cluster;
        match self.proc {
            Proc::Participant(p) => with_inner!(state, Participant, |s| participant::on_timeout(
                c, p, &mut s, timer, o
            )),
            Proc::Originator(_) => with_inner!(state, Originator, |s| originator::on_timeout(
                c, &mut s, timer, o
            )),
            Proc::Ha => {}
        }
    }

    fn name(&self) -> String {
        match self.proc {
            Proc::Participant(p) => self.cluster.participant_name(p),
            Proc::Originator(s) => self.cluster.originators[s].name.clone(),
            Proc::Ha => "HA".into(),
        }
    }
}
