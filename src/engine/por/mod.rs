//! The reduced search: a depth-first search of our own over the model
//! (stateright 0.31 has no partial-order reduction), with persistent sets
//! (`persistent.rs`), sleep sets (`sleep.rs`), symmetry and a compact
//! table of 64-bit fingerprints (`table.rs`), on one or more threads
//! (`parallel.rs`).
//!
//! Independence. Every action belongs to one actor: a delivery to its
//! receiver, a timeout, crash or restart to its actor, a loss to the
//! receiver of the lost message. Two actions of different actors commute
//! and neither disables the other: each reads and writes its own actor's
//! state and storage, removes its own message (the head of its channel on
//! an ordered network, one copy of its envelope otherwise) and appends what
//! it sends. Two exceptions make more actions dependent: when the model's
//! `max_concurrent_crashes` is below the number of actors that may crash,
//! crashes and restarts of all actors are mutually dependent (one can
//! disable another); and on a duplicating network stateright records the
//! last delivered message in the state, so every delivery depends on every
//! other (the reduction is then off: `Engine::new` says so).

mod parallel;
mod persistent;
mod sleep;
mod table;

use crate::model::{visited_fp as fingerprint, Action, Dtm0Model, SysState};
use parallel::{Frame, Job, Shared};
use stateright::actor::{ActorModelAction, Network};
use stateright::{Expectation, Model};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Whether the search checks the step-local forms of the properties read
/// on intermediate states (`model::steps`) on every transition it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepChecks {
    Off,
    /// A violated local form is a discovery of the registered property
    /// (its `always` check), with the path to the step's end state: a
    /// normal counterexample of that property. The default.
    Merged,
    /// Local forms are recorded apart (`Outcome::step_found`), so that a
    /// test can compare them with the global forms, which then keep their
    /// own discoveries.
    Apart,
}

/// What to reduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reduce {
    pub persistent: bool,
    pub sleep: bool,
    pub symmetry: bool,
    /// Persistent sets from the semantic stubborn-set closure
    /// (`engine::stubborn`: same-actor independence by message kind and
    /// receiver state) instead of the actor-level closure. Sleep sets are
    /// off with it: their argument assumes unconditional independence.
    pub semantic: bool,
}

impl Reduce {
    /// No reduction: every enabled action at every state.
    pub const PLAIN: Reduce = Reduce {
        persistent: false,
        sleep: false,
        symmetry: false,
        semantic: false,
    };
    /// Actor-level persistent sets, no sleep sets, no symmetry.
    pub const PERSISTENT: Reduce = Reduce {
        persistent: true,
        ..Reduce::PLAIN
    };
    /// The semantic stubborn sets (`engine::stubborn`).
    pub const SEMANTIC: Reduce = Reduce {
        semantic: true,
        ..Reduce::PERSISTENT
    };
}

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Transitions taken (successor states generated within the boundary),
    /// plus the initial state: stateright's "states".
    pub states: u64,
    pub unique: u64,
    pub max_depth: usize,
    /// Properties with a discovery (a counterexample of an `always`, an
    /// example of a `sometimes`), by name, with the path's actions.
    pub found: Vec<(&'static str, Vec<Action>)>,
    /// Fingerprints of the terminal states (no enabled action), sorted,
    /// when asked for.
    pub terminals: Vec<u64>,
    /// States where the explored set was smaller than the enabled set.
    pub reduced_states: u64,
    /// With `StepChecks::Apart`: the step-local forms violated (property
    /// ids, in `model::steps::STEP_IDS` order), each with the path to the
    /// end state of a violating step.
    pub step_found: Vec<(&'static str, Vec<Action>)>,
    /// Transitions not taken because they were asleep.
    pub slept: u64,
    /// Bytes held by the table of visited states at the end.
    pub table_bytes: usize,
    /// True when the whole (reduced) space was explored.
    pub complete: bool,
}

/// The actor an action belongs to.
pub fn actor_of(a: &Action) -> usize {
    match a {
        ActorModelAction::Deliver { dst, .. } => usize::from(*dst),
        ActorModelAction::Drop(env) => usize::from(env.dst),
        ActorModelAction::Timeout(id, _)
        | ActorModelAction::Crash(id)
        | ActorModelAction::Recover(id) => usize::from(*id),
        ActorModelAction::SelectRandom { actor, .. } => usize::from(*actor),
    }
}

fn is_crash_or_recover(a: &Action) -> bool {
    matches!(a, ActorModelAction::Crash(_) | ActorModelAction::Recover(_))
}

pub struct Engine<'a> {
    m: &'a Dtm0Model,
    reduce: Reduce,
    /// Crashes and restarts of different actors are dependent.
    crash_coupled: bool,
    /// Actors that may still crash or restart (crash budget > 0).
    crashable: Vec<bool>,
    /// With symmetry: the renamings within the classes of
    /// interchangeable participants.
    renamings: crate::model::symmetry::Renamings,
    ordered: bool,
    n_actors: usize,
    /// Participant and originator actions are visible to the properties
    /// checked on intermediate states; HA's are not.
    visible_actor: Vec<bool>,
    pub max_depth: Option<usize>,
    pub timeout: Option<Duration>,
    pub collect_terminals: bool,
    /// Collect each terminal state's canonical fingerprint (the least over
    /// every renaming within the symmetry classes) instead of its stored
    /// one: for tests that compare terminal classes across searches.
    pub canonical_terminals: bool,
    /// Property ids (`S2`) whose counterexample ends the run.
    pub stop_at: Vec<&'static str>,
    pub progress: bool,
    /// Step-local property checks on every transition taken (default
    /// `Merged`); they add no state.
    pub steps: StepChecks,
    /// Threads; sleep sets need one (their stored masks assume one
    /// depth-first order), so with more the reduction is persistent sets
    /// only.
    pub threads: usize,
}

impl<'a> Engine<'a> {
    /// The engine, and a note when the reduction asked for cannot apply.
    pub fn new(
        m: &'a Dtm0Model,
        mut reduce: Reduce,
        threads: usize,
    ) -> (Engine<'a>, Option<&'static str>) {
        let cfg = m.cfg();
        let n_actors = cfg.cluster.actor_count();
        let crashable: Vec<bool> = (0..n_actors)
            .map(|i| cfg.budgets.get(i).copied().unwrap_or(0) > 0)
            .collect();
        let n_crashable = crashable.iter().filter(|&&c| c).count();
        let mut note = None;
        let duplicating = matches!(
            m.init_states()[0].network,
            Network::UnorderedDuplicating(..)
        );
        if duplicating && (reduce.persistent || reduce.sleep) {
            reduce.persistent = false;
            reduce.sleep = false;
            note = Some("no partial-order reduction on a duplicating network (every delivery writes the network's last message)");
        }
        if reduce.semantic && reduce.sleep {
            reduce.sleep = false;
            note = Some(
                "sleep sets are off with the semantic reduction (its independence is conditional)",
            );
        }
        if threads > 1 && reduce.sleep {
            reduce.sleep = false;
            note = Some("sleep sets need one thread: with more, persistent sets only");
        }
        if reduce.symmetry && reduce.sleep {
            // Sleep masks are indexed by the actions of the state itself,
            // which a renamed representative does not share.
            reduce.sleep = false;
            note = Some("sleep sets are off with symmetry");
        }
        let ha = usize::from(cfg.cluster.ha_id());
        let engine = Engine {
            m,
            reduce,
            crash_coupled: cfg.max_crashes < n_crashable,
            crashable,
            renamings: crate::model::symmetry::Renamings::new(
                crate::model::symmetry::classes(
                    &crate::model::symmetry::class_keys(&cfg.cluster, &cfg.budgets),
                    cfg.cluster.n,
                ),
                cfg.cluster.n,
            ),
            ordered: matches!(m.init_states()[0].network, Network::Ordered(_)),
            n_actors,
            visible_actor: (0..n_actors).map(|i| i != ha).collect(),
            max_depth: None,
            timeout: None,
            collect_terminals: false,
            canonical_terminals: false,
            stop_at: vec![],
            progress: false,
            steps: StepChecks::Merged,
            threads: threads.max(1),
        };
        (engine, note)
    }

    /// The actor-level independence claim (sleep sets rely on it): actions
    /// of different actors commute, except crashes and restarts coupled by
    /// `max_concurrent_crashes`. Checked by executing both orders in
    /// tests/por.rs.
    pub fn independent(&self, a: &Action, b: &Action) -> bool {
        actor_of(a) != actor_of(b)
            && !(self.crash_coupled && is_crash_or_recover(a) && is_crash_or_recover(b))
    }

    fn fp(&self, s: &SysState) -> u64 {
        if self.reduce.symmetry {
            self.renamings.fingerprint(s)
        } else {
            fingerprint(s)
        }
    }

    /// The model's actions at `s` (at most 255: more is refused).
    fn actions(&self, s: &SysState) -> Vec<Action> {
        let mut acts = Vec::new();
        self.m.actions(s, &mut acts);
        assert!(acts.len() < 256, "more than 255 actions at one state");
        acts
    }

    /// Runs the search from the initial state, on `self.threads` threads.
    pub fn run(&self) -> Outcome {
        let m = self.m;
        let props = m.properties();
        // Per registered property: does its discovery end the run (the
        // `always` check of a property named in `stop_at`)?
        let stops = m
            .registered
            .iter()
            .map(|r| {
                matches!(r.property.expectation, Expectation::Always)
                    && self.stop_at.contains(&r.spec.id)
            })
            .collect();
        // Per step-local form: the registered `always` property it belongs
        // to (its discovery, when merged).
        let step_index = crate::model::steps::STEP_IDS
            .iter()
            .map(|id| {
                m.registered.iter().position(|r| {
                    r.spec.id == *id && matches!(r.property.expectation, Expectation::Always)
                })
            })
            .collect();
        let sh = Shared::new(self.reduce.sleep, stops, self.steps, step_index);
        for init in m.init_states() {
            sh.states.fetch_add(1, Ordering::Relaxed);
            let fp = self.fp(&init);
            if !sh.insert(fp) {
                continue;
            }
            sh.unique.fetch_add(1, Ordering::Relaxed);
            self.check(&sh, &props, &init, &[]);
            let frame = self.frame(init, fp, 0, vec![], &sh);
            sh.jobs.lock().unwrap().push(Job {
                frame,
                path: vec![],
            });
        }
        let threads = self.threads.max(1);
        std::thread::scope(|scope| {
            for w in 0..threads {
                let (sh, props) = (&sh, &props);
                scope.spawn(move || {
                    // A worker that panics ends the run for all: the others
                    // would otherwise wait for the work it held, forever.
                    // The scope then re-raises the panic.
                    let run = std::panic::AssertUnwindSafe(|| self.worker(sh, props, w == 0));
                    if let Err(e) = std::panic::catch_unwind(run) {
                        sh.done.store(true, Ordering::Relaxed);
                        std::panic::resume_unwind(e);
                    }
                });
            }
        });
        sh.outcome(&props)
    }

    /// Checks every property not yet discovered at a new state.
    fn check(
        &self,
        sh: &Shared,
        props: &[stateright::Property<Dtm0Model>],
        s: &SysState,
        path: &[Action],
    ) {
        for (i, p) in props.iter().enumerate() {
            if !sh.pending[i].load(Ordering::Relaxed) {
                continue;
            }
            let holds = (p.condition)(self.m, s);
            let discovered = match p.expectation {
                Expectation::Always => !holds,
                Expectation::Sometimes => holds,
                Expectation::Eventually => false,
            };
            if discovered {
                self.discover(sh, i, path);
            }
        }
    }

    /// Records the discovery of registered property `i` at the end of
    /// `path`, unless it has one; ends the run when that was the last
    /// pending one or a property named in `stop_at`.
    fn discover(&self, sh: &Shared, i: usize, path: &[Action]) {
        if sh.pending[i].swap(false, Ordering::Relaxed) {
            sh.found.lock().unwrap().push((i, path.to_vec()));
            let named = sh.stops[i];
            if sh.all_found() || named {
                if named {
                    self.m.cfg().stop.store(true, Ordering::Relaxed);
                }
                sh.end_early();
            }
        }
    }

    /// The step-local checks of one transition `before` --`action`-->
    /// `after`, `path` leading to `after`: each violated form is a
    /// discovery (of its registered property, or apart). Called only while
    /// one of them is still pending.
    fn check_step(
        &self,
        sh: &Shared,
        before: &SysState,
        action: &Action,
        after: &SysState,
        path: &[Action],
    ) {
        let violated = crate::model::steps::step_violations(self.m, before, action, after);
        for id in violated {
            let k = crate::model::steps::STEP_IDS
                .iter()
                .position(|x| *x == id)
                .expect("a step id");
            match self.steps {
                StepChecks::Off => {}
                StepChecks::Merged => {
                    if let Some(i) = sh.step_index[k] {
                        self.discover(sh, i, path);
                    }
                }
                StepChecks::Apart => {
                    if sh.step_pending[k].swap(false, Ordering::Relaxed) {
                        sh.step_found.lock().unwrap().push((k, path.to_vec()));
                        if sh.all_found() {
                            sh.end_early();
                        }
                    }
                }
            }
        }
    }

    /// A new state's frame: its actions, the persistent set minus the
    /// sleep set, and its stored mask.
    fn frame(
        &self,
        state: SysState,
        fp: u64,
        depth: usize,
        sleep: Vec<Action>,
        sh: &Shared,
    ) -> Frame {
        let acts = self.actions(&state);
        let en: Vec<bool> = acts.iter().map(|a| self.enabled(&state, a)).collect();
        let n_en = en.iter().filter(|&&e| e).count();
        if n_en == 0 && self.collect_terminals {
            let t = if self.canonical_terminals {
                self.renamings.canonical_fp(&state)
            } else {
                fp
            };
            sh.terminals.lock().unwrap().push(t);
        }
        let t = self.persistent(&state, &acts, &en);
        if t.len() < n_en {
            sh.reduced.fetch_add(1, Ordering::Relaxed);
        }
        let (todo, sleep) = self.put_to_sleep(sh, fp, &acts, &t, sleep);
        Frame {
            state,
            acts,
            todo,
            pos: 0,
            sleep,
            depth,
        }
    }
}
