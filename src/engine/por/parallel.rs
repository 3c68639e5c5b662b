//! The search's threads: what they share (the sharded visited table, the
//! counters, the discoveries), the jobs an idle thread takes, the work
//! sharing that makes them, and the depth-first loop each thread runs.
//!
//! With more than one thread, the visited table is sharded by the
//! fingerprint's top bits and a thread that runs dry takes half of what
//! remains at the lowest frame of a busy thread's stack (the largest
//! subtrees); persistent sets do not depend on the order of exploration.

use super::table::Table;
use super::{Engine, Outcome, StepChecks};
use crate::engine::progress::Progress;
use crate::model::{Action, Dtm0Model, SysState};
use stateright::Model;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shards of the visited table (by the fingerprint's top bits).
const SHARDS: usize = 64;

/// One state on a thread's depth-first stack.
pub(super) struct Frame {
    pub(super) state: SysState,
    /// The state's actions as the model lists them; some may be disabled.
    pub(super) acts: Vec<Action>,
    /// Indices into `acts` to explore, in order.
    pub(super) todo: Vec<u8>,
    pub(super) pos: usize,
    /// The sleep set while exploring `todo[pos..]`.
    pub(super) sleep: Vec<Action>,
    pub(super) depth: usize,
}

pub(super) struct Job {
    pub(super) frame: Frame,
    /// The actions from the initial state to the frame's state.
    pub(super) path: Vec<Action>,
}

/// What the threads of one search share.
pub(super) struct Shared {
    shards: Vec<Mutex<Table>>,
    pub(super) jobs: Mutex<Vec<Job>>,
    idle: AtomicUsize,
    pub(super) done: AtomicBool,
    pub(super) ended_early: AtomicBool,
    pub(super) states: AtomicU64,
    pub(super) unique: AtomicU64,
    max_depth: AtomicUsize,
    pub(super) reduced: AtomicU64,
    pub(super) slept: AtomicU64,
    /// Per registered property (by index): not discovered yet.
    pub(super) pending: Vec<AtomicBool>,
    /// Per registered property (by index): its discovery ends the run.
    pub(super) stops: Vec<bool>,
    /// Discoveries: the registered property's index and the path.
    pub(super) found: Mutex<Vec<(usize, Vec<Action>)>>,
    /// How step-local forms are recorded.
    steps: StepChecks,
    /// Per step-local form (`model::steps::STEP_IDS`): the registered
    /// property it belongs to, if registered.
    pub(super) step_index: Vec<Option<usize>>,
    /// Per step-local form, with `StepChecks::Apart`: not violated yet.
    pub(super) step_pending: Vec<AtomicBool>,
    /// With `StepChecks::Apart`: the forms violated, by index, with paths.
    pub(super) step_found: Mutex<Vec<(usize, Vec<Action>)>>,
    pub(super) terminals: Mutex<Vec<u64>>,
    pub(super) start: Instant,
}

impl Shared {
    pub(super) fn new(
        with_masks: bool,
        stops: Vec<bool>,
        steps: StepChecks,
        step_index: Vec<Option<usize>>,
    ) -> Shared {
        Shared {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Table::new(with_masks)))
                .collect(),
            jobs: Mutex::new(Vec::new()),
            idle: AtomicUsize::new(0),
            done: AtomicBool::new(false),
            ended_early: AtomicBool::new(false),
            states: AtomicU64::new(0),
            unique: AtomicU64::new(0),
            max_depth: AtomicUsize::new(0),
            reduced: AtomicU64::new(0),
            slept: AtomicU64::new(0),
            pending: stops.iter().map(|_| AtomicBool::new(true)).collect(),
            stops,
            found: Mutex::new(Vec::new()),
            steps,
            step_pending: step_index
                .iter()
                .map(|_| AtomicBool::new(steps == StepChecks::Apart))
                .collect(),
            step_index,
            step_found: Mutex::new(Vec::new()),
            terminals: Mutex::new(Vec::new()),
            start: Instant::now(),
        }
    }

    /// The outcome once every thread has ended; discoveries in the
    /// model's property order, whichever thread found them.
    pub(super) fn outcome(self, props: &[stateright::Property<Dtm0Model>]) -> Outcome {
        let mut found = self.found.into_inner().unwrap();
        found.sort_by_key(|(i, _)| *i);
        let found = found
            .into_iter()
            .map(|(i, path)| (props[i].name, path))
            .collect();
        let mut step_found = self.step_found.into_inner().unwrap();
        step_found.sort_by_key(|(k, _)| *k);
        let step_found = step_found
            .into_iter()
            .map(|(k, path)| (crate::model::steps::STEP_IDS[k], path))
            .collect();
        let mut terminals = self.terminals.into_inner().unwrap();
        terminals.sort_unstable();
        terminals.dedup();
        let table_bytes = self.shards.iter().map(|t| t.lock().unwrap().bytes()).sum();
        Outcome {
            states: self.states.into_inner(),
            unique: self.unique.into_inner(),
            max_depth: self.max_depth.into_inner(),
            found,
            step_found,
            terminals,
            reduced_states: self.reduced.into_inner(),
            slept: self.slept.into_inner(),
            table_bytes,
            complete: !self.ended_early.into_inner(),
        }
    }

    /// Every discovery made: nothing left to look for.
    pub(super) fn all_found(&self) -> bool {
        self.pending.iter().all(|x| !x.load(Ordering::Relaxed))
            && self.step_pending.iter().all(|x| !x.load(Ordering::Relaxed))
    }

    /// Some step-local form is still worth checking.
    pub(super) fn steps_pending(&self) -> bool {
        match self.steps {
            StepChecks::Off => false,
            StepChecks::Merged => self
                .step_index
                .iter()
                .flatten()
                .any(|&i| self.pending[i].load(Ordering::Relaxed)),
            StepChecks::Apart => self.step_pending.iter().any(|x| x.load(Ordering::Relaxed)),
        }
    }

    fn shard(&self, fp: u64) -> std::sync::MutexGuard<'_, Table> {
        self.shards[(fp >> 58) as usize % SHARDS].lock().unwrap()
    }
    /// Inserts `fp`; true when it is new.
    pub(super) fn insert(&self, fp: u64) -> bool {
        self.shard(fp).insert(fp).1
    }
    pub(super) fn mask(&self, fp: u64) -> u16 {
        self.shard(fp).mask(fp)
    }
    pub(super) fn set_mask(&self, fp: u64, mask: u16) {
        self.shard(fp).set_mask(fp, mask)
    }
    /// Ends the search for every thread.
    pub(super) fn end_early(&self) {
        self.ended_early.store(true, Ordering::Relaxed);
        self.done.store(true, Ordering::Relaxed);
    }
    /// A job to work on, waiting while other threads may still give one;
    /// `None` when every thread is idle and no job is left.
    fn take_job(&self, threads: usize) -> Option<Job> {
        if let Some(j) = self.jobs.lock().unwrap().pop() {
            return Some(j);
        }
        self.idle.fetch_add(1, Ordering::SeqCst);
        loop {
            if self.done.load(Ordering::Relaxed) {
                return None;
            }
            {
                let mut jobs = self.jobs.lock().unwrap();
                if let Some(j) = jobs.pop() {
                    self.idle.fetch_sub(1, Ordering::SeqCst);
                    return Some(j);
                }
                if self.idle.load(Ordering::SeqCst) == threads {
                    self.done.store(true, Ordering::Relaxed);
                    return None;
                }
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Gives an idle thread half of what remains at the lowest frame of
/// `stack` that has two or more actions left (the largest subtrees).
/// Only without sleep sets (more than one thread).
fn share(sh: &Shared, stack: &mut [Frame], path: &[Action], base: usize) {
    let mut jobs = sh.jobs.lock().unwrap();
    if !jobs.is_empty() {
        return;
    }
    let Some(b) = stack.iter().position(|f| f.todo.len() - f.pos >= 2) else {
        return;
    };
    let f = &mut stack[b];
    let keep = f.pos + (f.todo.len() - f.pos).div_ceil(2);
    let given: Vec<u8> = f.todo.split_off(keep);
    jobs.push(Job {
        frame: Frame {
            state: f.state.clone(),
            acts: f.acts.clone(),
            todo: given,
            pos: 0,
            sleep: vec![],
            depth: f.depth,
        },
        path: path[..base + b].to_vec(),
    });
}

/// One thread of the search: its stack, the path to its top, and counts
/// kept locally and added to the shared counters every 256 steps and at
/// the end (shared atomics on every step cost throughput).
struct Worker<'e, 'a> {
    e: &'e Engine<'a>,
    sh: &'e Shared,
    props: &'e [stateright::Property<Dtm0Model>],
    stack: Vec<Frame>,
    path: Vec<Action>,
    /// Length of the path to the bottom frame of the stack.
    base: usize,
    steps: u64,
    states: u64,
    unique: u64,
    deepest: usize,
    /// The thread that prints progress lines, if any.
    progress: Option<Progress>,
}

/// Whether a worker goes on after its periodic chores.
enum Chores {
    GoOn,
    Stop,
}

impl<'a> Engine<'a> {
    /// One thread of the search: depth-first from jobs it takes, giving
    /// away the far end of its stack when another thread is idle.
    pub(super) fn worker(
        &self,
        sh: &Shared,
        props: &[stateright::Property<Dtm0Model>],
        reporter: bool,
    ) {
        let mut w = Worker {
            e: self,
            sh,
            props,
            stack: Vec::new(),
            path: Vec::new(),
            base: 0,
            steps: 0,
            states: 0,
            unique: 0,
            deepest: 0,
            progress: (reporter && self.progress).then(|| Progress::since(sh.start)),
        };
        w.run();
    }
}

impl Worker<'_, '_> {
    fn run(&mut self) {
        loop {
            if self.sh.done.load(Ordering::Relaxed) {
                self.flush();
                return;
            }
            if self.stack.is_empty() {
                self.flush();
                let Some(job) = self.sh.take_job(self.e.threads.max(1)) else {
                    return;
                };
                self.base = job.path.len();
                self.path = job.path;
                self.stack.push(job.frame);
            }
            self.steps += 1;
            if self.steps.is_multiple_of(256) {
                if let Chores::Stop = self.chores() {
                    return;
                }
            }
            self.step();
        }
    }

    fn flush(&mut self) {
        let sh = self.sh;
        sh.states
            .fetch_add(std::mem::take(&mut self.states), Ordering::Relaxed);
        sh.unique
            .fetch_add(std::mem::take(&mut self.unique), Ordering::Relaxed);
        sh.max_depth.fetch_max(self.deepest, Ordering::Relaxed);
    }

    /// Every 256 steps: flush the counts, share work with an idle thread,
    /// end at the time limit or the stop flag, print progress.
    fn chores(&mut self) -> Chores {
        let (e, sh) = (self.e, self.sh);
        self.flush();
        if e.threads > 1 && sh.idle.load(Ordering::Relaxed) > 0 {
            share(sh, &mut self.stack, &self.path, self.base);
        }
        if e.timeout.is_some_and(|t| sh.start.elapsed() >= t)
            || e.m.cfg().stop.load(Ordering::Relaxed)
        {
            sh.end_early();
            self.flush();
            return Chores::Stop;
        }
        if let Some(p) = &mut self.progress {
            p.tick(
                sh.states.load(Ordering::Relaxed) as usize,
                sh.unique.load(Ordering::Relaxed) as usize,
                sh.max_depth.load(Ordering::Relaxed),
                &format!(" (reduced search, {} thread(s))", e.threads.max(1)),
            );
        }
        Chores::GoOn
    }

    /// Takes the next action of the top frame (or pops it when done).
    fn step(&mut self) {
        let (e, m) = (self.e, self.e.m);
        let top = self.stack.last_mut().expect("not empty");
        if top.pos == top.todo.len() {
            self.stack.pop();
            self.path
                .truncate(self.base + self.stack.len().saturating_sub(1));
            return;
        }
        let i = top.todo[top.pos] as usize;
        top.pos += 1;
        let action = top.acts[i].clone();
        let Some(next) = m
            .next_state(&top.state, action.clone())
            .filter(|n| m.within_boundary(n))
        else {
            return;
        };
        if self.sh.steps_pending() {
            // The path to `next`: the path to the top frame, then `action`.
            let at = self.base + self.stack.len() - 1;
            let mut path = self.path[..at.min(self.path.len())].to_vec();
            path.push(action.clone());
            let top = self.stack.last().expect("not empty");
            e.check_step(self.sh, &top.state, &action, &next, &path);
        }
        let top = self.stack.last_mut().expect("not empty");
        let child_sleep = e.child_sleep(top, &action);
        let depth = top.depth + 1;
        self.states += 1;
        self.deepest = self.deepest.max(depth);
        let fp = e.fp(&next);
        if self.sh.insert(fp) {
            self.visit_new(next, fp, action, depth, child_sleep);
        } else if e.reduce.sleep {
            self.revisit(next, fp, action, depth, child_sleep);
        }
    }

    /// Puts `action` on the path to the top frame's state.
    fn push_path(&mut self, action: Action) {
        self.path.truncate(self.base + self.stack.len() - 1);
        self.path.push(action);
    }

    /// A state seen for the first time: check it, and explore it unless
    /// at the depth limit.
    fn visit_new(
        &mut self,
        next: SysState,
        fp: u64,
        action: Action,
        depth: usize,
        sleep: Vec<Action>,
    ) {
        let (e, sh) = (self.e, self.sh);
        self.unique += 1;
        self.push_path(action);
        e.check(sh, self.props, &next, &self.path);
        if e.max_depth.is_some_and(|d| depth >= d) {
            return;
        }
        let f = e.frame(next, fp, depth, sleep, sh);
        self.stack.push(f);
    }

    /// A state seen before, reached with a sleep set: explore what slept
    /// there before and is awake now.
    fn revisit(
        &mut self,
        next: SysState,
        fp: u64,
        action: Action,
        depth: usize,
        sleep: Vec<Action>,
    ) {
        if let Some(f) = self.e.wake(self.sh, next, fp, depth, sleep) {
            self.push_path(action);
            self.stack.push(f);
        }
    }
}
