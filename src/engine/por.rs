//! The reduced search: a depth-first search of our own over the model
//! (stateright 0.31 has no partial-order reduction), with persistent sets,
//! sleep sets, symmetry and a compact table of 64-bit fingerprints.
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
//!
//! Persistent sets. At a state, the set explored is the enabled actions of
//! a set `A` of actors, closed so that no path of actions outside `A` can
//! give an actor of `A` a new action: an actor outside `A` that may still
//! act (it has an enabled action, or can be woken by one that has; any
//! actor may send to any other) and may send to an actor of `A` a message
//! that is not queued behind one already in flight (ordered: its channel
//! is empty; unordered: always) joins `A`. The set must hold an enabled
//! action that is not a crash; if the set holds an action visible to a
//! property checked on intermediate states (any participant or originator
//! action), the state is expanded fully. See README, "Partial-order
//! reduction", for why every property keeps its verdict.
//!
//! Sleep sets, stored with the state (Godefroid, Holzmann and Pirottin's
//! scheme): a state's entry keeps the bit mask of persistent-set actions
//! not yet explored from it because they were asleep; a later visit with a
//! smaller sleep set explores the difference. So every state the
//! persistent-set search reaches is reached, with fewer transitions.
//! Stored masks assume one depth-first order: sleep sets are used on one
//! thread only (and not with symmetry, whose representatives do not share
//! the state's action list).
//!
//! Threads. With more than one, the visited table is sharded by the
//! fingerprint's top bits and a thread that runs dry takes half of what
//! remains at the lowest frame of a busy thread's stack (the largest
//! subtrees); persistent sets do not depend on the order of exploration.

use crate::model::properties::PROPS;
use crate::model::{visited_fp as fingerprint, Action, Dtm0Model, SysState};
use stateright::actor::{ActorModelAction, Network};
use stateright::{Expectation, Model};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to reduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reduce {
    pub persistent: bool,
    pub sleep: bool,
    pub symmetry: bool,
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
    /// Transitions not taken because they were asleep.
    pub slept: u64,
    /// Bytes held by the table of visited states at the end.
    pub table_bytes: usize,
    /// True when the whole (reduced) space was explored.
    pub complete: bool,
}

/// Actions past this index in a state's list are never put to sleep (a
/// stored mask has this many bits).
const MASK_BITS: usize = 16;

/// The table of visited states: open addressing on 64-bit fingerprints
/// (0 marks a free slot), with an optional parallel array of sleep masks.
struct Table {
    fps: Vec<u64>,
    masks: Vec<u16>,
    len: usize,
}

impl Table {
    fn new(with_masks: bool) -> Table {
        let cap = 1 << 8;
        Table {
            fps: vec![0; cap],
            masks: if with_masks { vec![0; cap] } else { vec![] },
            len: 0,
        }
    }
    fn bytes(&self) -> usize {
        self.fps.len() * 8 + self.masks.len() * 2
    }
    fn slot(&self, fp: u64) -> (usize, bool) {
        let m = self.fps.len() - 1;
        let mut i = (fp.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) as usize & m;
        loop {
            match self.fps[i] {
                0 => return (i, false),
                x if x == fp => return (i, true),
                _ => i = (i + 1) & m,
            }
        }
    }
    /// Inserts `fp`; returns its slot and whether it was new.
    fn insert(&mut self, fp: u64) -> (usize, bool) {
        if (self.len + 1) * 8 > self.fps.len() * 7 {
            self.grow();
        }
        let (i, found) = self.slot(fp);
        if !found {
            self.fps[i] = fp;
            self.len += 1;
        }
        (i, !found)
    }
    fn grow(&mut self) {
        let with_masks = !self.masks.is_empty();
        let cap = self.fps.len() * 2;
        let old_fps = std::mem::replace(&mut self.fps, vec![0; cap]);
        let old_masks = std::mem::replace(
            &mut self.masks,
            if with_masks { vec![0; cap] } else { vec![] },
        );
        for (j, &fp) in old_fps.iter().enumerate() {
            if fp != 0 {
                let (i, _) = self.slot(fp);
                self.fps[i] = fp;
                if with_masks {
                    self.masks[i] = old_masks[j];
                }
            }
        }
    }
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

struct Frame {
    state: SysState,
    /// The state's actions as the model lists them; some may be disabled.
    acts: Vec<Action>,
    /// Indices into `acts` to explore, in order.
    todo: Vec<u8>,
    pos: usize,
    /// The sleep set while exploring `todo[pos..]`.
    sleep: Vec<Action>,
    depth: usize,
}

pub struct Engine<'a> {
    m: &'a Dtm0Model,
    reduce: Reduce,
    /// Crashes and restarts of different actors are dependent.
    crash_coupled: bool,
    /// Actors that may still crash or restart (crash budget > 0).
    crashable: Vec<bool>,
    ordered: bool,
    n_actors: usize,
    /// Participant and originator actions are visible to the properties
    /// checked on intermediate states; HA's are not.
    visible_actor: Vec<bool>,
    pub max_depth: Option<usize>,
    pub timeout: Option<Duration>,
    pub collect_terminals: bool,
    /// Property names whose discovery ends the run.
    pub stop_at: Vec<&'static str>,
    pub progress: bool,
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
            ordered: matches!(m.init_states()[0].network, Network::Ordered(_)),
            n_actors,
            visible_actor: (0..n_actors).map(|i| i != ha).collect(),
            max_depth: None,
            timeout: None,
            collect_terminals: false,
            stop_at: vec![],
            progress: false,
            threads: threads.max(1),
        };
        (engine, note)
    }

    fn independent(&self, a: &Action, b: &Action) -> bool {
        actor_of(a) != actor_of(b)
            && !(self.crash_coupled && is_crash_or_recover(a) && is_crash_or_recover(b))
    }

    fn fp(&self, s: &SysState) -> u64 {
        if self.reduce.symmetry {
            fingerprint(&crate::model::symmetry::representative(s))
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

    /// Whether `a` leads to a state within the boundary: a delivery to a
    /// crashed actor waits, a crash past the actor's budget is outside the
    /// boundary; everything else the model lists is enabled. (Tested
    /// against `next_state` on every shipped small model.)
    pub fn enabled(&self, s: &SysState, a: &Action) -> bool {
        match a {
            ActorModelAction::Deliver { dst, .. } => !s.crashed[usize::from(*dst)],
            ActorModelAction::Crash(id) => {
                let i = usize::from(*id);
                crate::model::incarnation(s, i)
                    <= crate::protocol::types::Inc::from(
                        self.m.cfg().budgets.get(i).copied().unwrap_or(0),
                    )
            }
            _ => true,
        }
    }

    /// The indices of `acts` (enabled ones, marked in `en`) in a
    /// persistent set at `s` (all enabled ones when no smaller set
    /// qualifies).
    fn persistent(&self, s: &SysState, acts: &[Action], en: &[bool]) -> Vec<u8> {
        let all: Vec<u8> = (0..acts.len() as u8).filter(|&i| en[i as usize]).collect();
        if !self.reduce.persistent || all.len() <= 1 {
            return all;
        }
        // A set holding a visible action is no use (the state would be
        // expanded fully), so only invisible actors with an enabled action
        // that is not a crash can seed one. Most states have none: return
        // before any more work (this runs at every new state).
        let seeds: Vec<usize> = (0..self.n_actors)
            .filter(|&p| {
                !self.visible_actor[p]
                    && all.iter().any(|&i| {
                        let a = &acts[i as usize];
                        actor_of(a) == p && !matches!(a, ActorModelAction::Crash(_))
                    })
            })
            .collect();
        if seeds.is_empty() {
            return all;
        }
        let mut active = vec![false; self.n_actors];
        for &i in &all {
            active[actor_of(&acts[i as usize])] = true;
        }
        let mut best: Option<Vec<u8>> = None;
        for p in seeds {
            let in_a = self.closure(s, p, &active);
            let t: Vec<u8> = all
                .iter()
                .copied()
                .filter(|&i| in_a[actor_of(&acts[i as usize])])
                .collect();
            if t.len() == all.len() {
                continue;
            }
            if t.iter()
                .any(|&i| self.visible_actor[actor_of(&acts[i as usize])])
            {
                continue;
            }
            if best.as_ref().is_none_or(|b| t.len() < b.len()) {
                best = Some(t);
            }
        }
        best.unwrap_or(all)
    }

    /// The actions the reduced search explores first at `s` (before sleep
    /// sets): a persistent set.
    pub fn persistent_set(&self, s: &SysState) -> Vec<Action> {
        let acts = self.actions(s);
        let en: Vec<bool> = acts.iter().map(|a| self.enabled(s, a)).collect();
        self.persistent(s, &acts, &en)
            .into_iter()
            .map(|i| acts[i as usize].clone())
            .collect()
    }

    /// The actors `A` closed from `p` (see the module comment).
    fn closure(&self, s: &SysState, p: usize, active: &[bool]) -> Vec<bool> {
        let n = self.n_actors;
        let mut in_a = vec![false; n];
        in_a[p] = true;
        loop {
            let mut changed = false;
            if self.crash_coupled && (0..n).any(|i| in_a[i] && self.crashable[i]) {
                for (a, &crashable) in in_a.iter_mut().zip(&self.crashable) {
                    if crashable && !*a {
                        *a = true;
                        changed = true;
                    }
                }
            }
            // Any actor may send to any other, so if one actor outside A
            // may act, every actor outside A may (it can be woken).
            let outside_active = (0..n).any(|k| !in_a[k] && active[k]);
            if outside_active {
                for k in 0..n {
                    if in_a[k] {
                        continue;
                    }
                    let may_add_action =
                        (0..n).any(|i| in_a[i] && (!self.ordered || channel_empty(s, k, i)));
                    if may_add_action {
                        in_a[k] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return in_a;
            }
        }
    }

    fn mask_of(acts: &[Action], sleep: &[Action]) -> u16 {
        let mut m = 0u16;
        if sleep.is_empty() {
            return 0;
        }
        for (i, a) in acts.iter().enumerate().take(MASK_BITS) {
            if sleep.contains(a) {
                m |= 1 << i;
            }
        }
        m
    }

    /// Runs the search from the initial state, on `self.threads` threads.
    pub fn run(&self) -> Outcome {
        let m = self.m;
        let props = m.properties();
        let sh = Shared {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Table::new(self.reduce.sleep)))
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
            pending: props.iter().map(|_| AtomicBool::new(true)).collect(),
            found: Mutex::new(Vec::new()),
            terminals: Mutex::new(Vec::new()),
            start: Instant::now(),
        };
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
                scope.spawn(move || self.worker(sh, props, w == 0));
            }
        });
        let mut found = sh.found.into_inner().unwrap();
        // Report in the model's property order, whichever thread found it.
        found.sort_by_key(|(name, _)| props.iter().position(|p| p.name == *name));
        let mut terminals = sh.terminals.into_inner().unwrap();
        terminals.sort_unstable();
        terminals.dedup();
        let table_bytes = sh.shards.iter().map(|t| t.lock().unwrap().bytes()).sum();
        Outcome {
            states: sh.states.into_inner(),
            unique: sh.unique.into_inner(),
            max_depth: sh.max_depth.into_inner(),
            found,
            terminals,
            reduced_states: sh.reduced.into_inner(),
            slept: sh.slept.into_inner(),
            table_bytes,
            complete: !sh.ended_early.into_inner(),
        }
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
            if discovered && sh.pending[i].swap(false, Ordering::Relaxed) {
                sh.found.lock().unwrap().push((p.name, path.to_vec()));
                let all = sh.pending.iter().all(|x| !x.load(Ordering::Relaxed));
                let named = self.stop_at.iter().any(|id| prop_id(p.name) == Some(id));
                if all || named {
                    if named {
                        self.m.cfg().stop.store(true, Ordering::Relaxed);
                    }
                    sh.ended_early.store(true, Ordering::Relaxed);
                    sh.done.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// One thread of the search: depth-first from jobs it takes, giving
    /// away the far end of its stack when another thread is idle.
    fn worker(&self, sh: &Shared, props: &[stateright::Property<Dtm0Model>], reporter: bool) {
        let m = self.m;
        let stop = m.cfg().stop.clone();
        let mut stack: Vec<Frame> = Vec::new();
        let mut path: Vec<Action> = Vec::new();
        // Length of the path to the bottom frame of the stack.
        let mut base = 0;
        let mut steps = 0u64;
        let mut last_report = Instant::now();
        // Counted locally, added to the shared counters every 256 steps
        // and at the end (shared atomics on every step cost throughput).
        let (mut states, mut unique, mut deepest) = (0u64, 0u64, 0usize);
        let flush = |states: &mut u64, unique: &mut u64, deepest: usize| {
            sh.states
                .fetch_add(std::mem::take(states), Ordering::Relaxed);
            sh.unique
                .fetch_add(std::mem::take(unique), Ordering::Relaxed);
            sh.max_depth.fetch_max(deepest, Ordering::Relaxed);
        };
        loop {
            if sh.done.load(Ordering::Relaxed) {
                flush(&mut states, &mut unique, deepest);
                return;
            }
            if stack.is_empty() {
                flush(&mut states, &mut unique, deepest);
                let Some(job) = sh.take_job(self.threads.max(1)) else {
                    return;
                };
                base = job.path.len();
                path = job.path;
                stack.push(job.frame);
            }
            steps += 1;
            if steps.is_multiple_of(256) {
                flush(&mut states, &mut unique, deepest);
                if self.threads > 1 && sh.idle.load(Ordering::Relaxed) > 0 {
                    share(sh, &mut stack, &path, base);
                }
                if self.timeout.is_some_and(|t| sh.start.elapsed() >= t)
                    || stop.load(Ordering::Relaxed)
                {
                    sh.ended_early.store(true, Ordering::Relaxed);
                    sh.done.store(true, Ordering::Relaxed);
                    flush(&mut states, &mut unique, deepest);
                    return;
                }
                if reporter && self.progress && last_report.elapsed() >= Duration::from_secs(2) {
                    last_report = Instant::now();
                    let secs = sh.start.elapsed().as_secs_f64();
                    let states = sh.states.load(Ordering::Relaxed);
                    eprintln!(
                        "progress: {secs:>6.1}s  states {states}  unique {}  depth {}  {:.0} states/s (reduced search, {} thread(s))",
                        sh.unique.load(Ordering::Relaxed),
                        sh.max_depth.load(Ordering::Relaxed),
                        states as f64 / secs,
                        self.threads.max(1)
                    );
                }
            }
            let top = stack.last_mut().expect("not empty");
            if top.pos == top.todo.len() {
                stack.pop();
                path.truncate(base + stack.len().saturating_sub(1));
                continue;
            }
            let i = top.todo[top.pos] as usize;
            top.pos += 1;
            let action = top.acts[i].clone();
            let Some(next) = m
                .next_state(&top.state, action.clone())
                .filter(|n| m.within_boundary(n))
            else {
                continue;
            };
            let child_sleep: Vec<Action> = top
                .sleep
                .iter()
                .filter(|u| self.independent(u, &action))
                .cloned()
                .collect();
            if self.reduce.sleep {
                top.sleep.push(action.clone());
            }
            let depth = top.depth + 1;
            states += 1;
            deepest = deepest.max(depth);
            let fp = self.fp(&next);
            if sh.insert(fp) {
                unique += 1;
                path.truncate(base + stack.len() - 1);
                path.push(action);
                self.check(sh, props, &next, &path);
                if self.max_depth.is_some_and(|d| depth >= d) {
                    continue;
                }
                let f = self.frame(next, fp, depth, child_sleep, sh);
                stack.push(f);
            } else if self.reduce.sleep {
                // Revisited with a sleep set: explore what slept before and
                // is awake now.
                let stored = sh.mask(fp);
                if stored == 0 {
                    continue;
                }
                let acts = self.actions(&next);
                let now = Self::mask_of(&acts, &child_sleep);
                let wake = stored & !now;
                sh.set_mask(fp, stored & now);
                if wake != 0 {
                    let todo: Vec<u8> = (0..acts.len().min(MASK_BITS) as u8)
                        .filter(|&j| wake & (1 << j) != 0)
                        .collect();
                    let child_sleep = child_sleep
                        .into_iter()
                        .filter(|a| acts.iter().take(MASK_BITS).any(|b| b == a))
                        .collect();
                    path.truncate(base + stack.len() - 1);
                    path.push(action);
                    stack.push(Frame {
                        state: next,
                        acts,
                        todo,
                        pos: 0,
                        sleep: child_sleep,
                        depth,
                    });
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
            sh.terminals.lock().unwrap().push(fp);
        }
        let t = self.persistent(&state, &acts, &en);
        if t.len() < n_en {
            sh.reduced.fetch_add(1, Ordering::Relaxed);
        }
        let sleep_mask = if self.reduce.sleep {
            Self::mask_of(&acts, &sleep)
        } else {
            0
        };
        let mut todo = Vec::with_capacity(t.len());
        let mut stored = 0u16;
        for &i in &t {
            if (i as usize) < MASK_BITS && sleep_mask & (1 << i) != 0 {
                stored |= 1 << i;
            } else {
                todo.push(i);
            }
        }
        if stored != 0 {
            sh.slept
                .fetch_add(u64::from(stored.count_ones()), Ordering::Relaxed);
            sh.set_mask(fp, stored);
        }
        // Only actions that could be stored stay asleep.
        let sleep = sleep
            .into_iter()
            .filter(|a| acts.iter().take(MASK_BITS).any(|b| b == a))
            .collect();
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

/// Shards of the visited table (by the fingerprint's top bits).
const SHARDS: usize = 64;

struct Job {
    frame: Frame,
    /// The actions from the initial state to the frame's state.
    path: Vec<Action>,
}

/// What the threads of one search share.
struct Shared {
    shards: Vec<Mutex<Table>>,
    jobs: Mutex<Vec<Job>>,
    idle: AtomicUsize,
    done: AtomicBool,
    ended_early: AtomicBool,
    states: AtomicU64,
    unique: AtomicU64,
    max_depth: AtomicUsize,
    reduced: AtomicU64,
    slept: AtomicU64,
    pending: Vec<AtomicBool>,
    found: Mutex<Vec<(&'static str, Vec<Action>)>>,
    terminals: Mutex<Vec<u64>>,
    start: Instant,
}

impl Shared {
    fn shard(&self, fp: u64) -> std::sync::MutexGuard<'_, Table> {
        self.shards[(fp >> 58) as usize % SHARDS].lock().unwrap()
    }
    /// Inserts `fp`; true when it is new.
    fn insert(&self, fp: u64) -> bool {
        self.shard(fp).insert(fp).1
    }
    fn mask(&self, fp: u64) -> u16 {
        let t = self.shard(fp);
        match t.slot(fp) {
            (i, true) if !t.masks.is_empty() => t.masks[i],
            _ => 0,
        }
    }
    fn set_mask(&self, fp: u64, mask: u16) {
        let mut t = self.shard(fp);
        if let (i, true) = t.slot(fp) {
            if !t.masks.is_empty() {
                t.masks[i] = mask;
            }
        }
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

/// The property id (`S2`) of a registered property or witness name.
fn prop_id(name: &str) -> Option<&'static str> {
    PROPS.iter().find(|p| p.name == name).map(|p| p.id)
}

/// True when channel `src -> dst` holds no message (ordered network).
fn channel_empty(s: &SysState, src: usize, dst: usize) -> bool {
    match &s.network {
        Network::Ordered(map) => map
            .get(&(src.into(), dst.into()))
            .is_none_or(|q| q.is_empty()),
        _ => true,
    }
}
