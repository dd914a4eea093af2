//! Which user classes run on which worker, as Locust's `UsersDispatcher` decides it: pure
//! code, no clock and no sockets.
//!
//! Classes are interleaved by a Kullback-Leibler generator over their weights (so any prefix of
//! the sequence is as close to the weights as possible), handed to workers round-robin, and a
//! ramp moves `max(1, floor(rate))` users per iteration, one iteration every `per_iteration/rate`
//! seconds. Ramping down removes the most recently added users first. `fixed_count` classes are
//! dispatched before any weighted user, whenever some are missing. Workers join and leave with
//! [`Dispatcher::add_worker`] and [`Dispatcher::remove_worker`]: the current user count is
//! redistributed as if ramped from zero over the new set of workers, that distribution is the
//! next iteration, and the ramp then carries on. A local run is the one-worker case; the master
//! drives the same type with many workers.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// A weighted class as the engine builds it (no fixed count).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassWeight {
    pub name: String,
    pub weight: f64,
}

/// A class as the dispatcher sees it: Locust's `weight` and `fixed_count` (0 = weighted).
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchClass {
    pub name: String,
    pub weight: f64,
    pub fixed_count: u64,
}

impl From<ClassWeight> for DispatchClass {
    fn from(c: ClassWeight) -> Self {
        DispatchClass {
            name: c.name,
            weight: c.weight,
            fixed_count: 0,
        }
    }
}

/// Per worker, per class, absolute user counts.
pub type Distribution = BTreeMap<String, BTreeMap<String, u64>>;

#[derive(Debug, Clone)]
struct HeapItem {
    divergence: f64,
    picked: f64,
    weight: f64,
    name: String,
}

// Python's heapq is a min-heap over the tuple (divergence, picked, weight, name).
impl Ord for HeapItem {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .divergence
            .total_cmp(&self.divergence)
            .then_with(|| other.picked.total_cmp(&self.picked))
            .then_with(|| other.weight.total_cmp(&self.weight))
            .then_with(|| other.name.cmp(&self.name))
    }
}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for HeapItem {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapItem {}

/// An endless sequence of class names following the weights as closely as possible at every prefix.
#[derive(Debug, Clone)]
pub struct KlGenerator {
    heap: BinaryHeap<HeapItem>,
}

impl KlGenerator {
    pub fn new(classes: &[ClassWeight]) -> Self {
        let heap = classes
            .iter()
            .filter(|c| c.weight > 0.0)
            .map(|c| HeapItem {
                divergence: c.weight * (c.weight / (c.weight + 1.0)).log2(),
                picked: c.weight + 1.0,
                weight: c.weight,
                name: c.name.clone(),
            })
            .collect();
        KlGenerator { heap }
    }
}

impl Iterator for KlGenerator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut top = self.heap.peek_mut()?;
        let name = top.name.clone();
        let x = top.picked;
        top.divergence = top.weight * (x / (x + 1.0)).log2();
        top.picked = x + 1.0;
        Some(name)
    }
}

/// Orders workers as Locust does: by their index among workers of the same host (the id up to
/// the first `_`), then by id, so users spread across hosts first.
pub fn sort_workers(ids: &[String]) -> Vec<String> {
    let mut by_id: Vec<&String> = ids.iter().collect();
    by_id.sort();
    let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
    let mut indexed: Vec<(usize, &String)> = by_id
        .into_iter()
        .map(|id| {
            let host = id.split('_').next().unwrap_or("");
            let n = per_host.entry(host).or_insert(0);
            let index = *n;
            *n += 1;
            (index, id)
        })
        .collect();
    indexed.sort();
    indexed.into_iter().map(|(_, id)| id.clone()).collect()
}

/// Locust's `_user_gen`: fixed-count users first whenever the dispatcher asks for them
/// (`try_fixed`), then an endless weighted sequence. The fixed batch is computed when it
/// starts, from the counts dispatched at that moment, and then drained, as Python's generator
/// does.
#[derive(Debug, Clone)]
struct UserGen {
    weighted: KlGenerator,
    fixed: Option<KlGenerator>,
    fixed_left: u64,
}

impl UserGen {
    fn new(classes: &[DispatchClass]) -> Self {
        let weighted: Vec<ClassWeight> = classes
            .iter()
            .filter(|c| c.fixed_count == 0)
            .map(|c| ClassWeight {
                name: c.name.clone(),
                weight: c.weight,
            })
            .collect();
        UserGen {
            weighted: KlGenerator::new(&weighted),
            fixed: None,
            fixed_left: 0,
        }
    }

    /// The next class to start, or `None` when no class can be started (Locust's `None`).
    fn next(
        &mut self,
        try_fixed: &mut bool,
        classes: &[DispatchClass],
        users: &Distribution,
    ) -> Option<String> {
        loop {
            if self.fixed_left > 0 {
                self.fixed_left -= 1;
                return self.fixed.as_mut().and_then(Iterator::next);
            }
            if !std::mem::take(try_fixed) {
                return self.weighted.next();
            }
            let missing: Vec<ClassWeight> = classes
                .iter()
                .filter(|c| c.fixed_count > 0)
                .filter_map(|c| {
                    let running: u64 = users.values().filter_map(|w| w.get(&c.name)).sum();
                    let miss = c.fixed_count.saturating_sub(running);
                    (miss > 0).then(|| ClassWeight {
                        name: c.name.clone(),
                        weight: miss as f64,
                    })
                })
                .collect();
            self.fixed_left = missing.iter().map(|c| c.weight as u64).sum();
            self.fixed = Some(KlGenerator::new(&missing));
        }
    }
}

/// Where the current dispatch cycle is (Python's `_dispatcher` generator, made explicit).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// `new_dispatch` was called; nothing yielded yet.
    Start,
    /// At least one iteration yielded; ramping towards the target.
    Ramping,
    /// The cycle is over until the next `new_dispatch`.
    Done,
}

/// One dispatch cycle after another: call [`Dispatcher::new_dispatch`] with a target, then take
/// iterations until it returns `None`. The caller waits [`Dispatcher::wait_between`] between them.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    /// Sorted by name, as Locust sorts them.
    classes: Vec<DispatchClass>,
    /// In dispatch order ([`sort_workers`]).
    workers: Vec<String>,
    users: Distribution,
    /// `(worker, class)` in the order they were started; ramping down pops from the end.
    active: Vec<(String, String)>,
    user_gen: UserGen,
    /// The worker round-robin, which carries on across iterations and cycles.
    next_worker: usize,
    current: u64,
    target: u64,
    per_iteration: u64,
    wait_between: f64,
    phase: Phase,
    rebalance: bool,
    try_fixed: bool,
    no_user_to_spawn: bool,
}

impl Dispatcher {
    /// A dispatcher over these workers and classes (anything that converts to a
    /// [`DispatchClass`], so the engine's [`ClassWeight`]s work as they are).
    pub fn new<C: Clone + Into<DispatchClass>>(worker_ids: &[String], classes: &[C]) -> Self {
        let mut classes: Vec<DispatchClass> = classes.iter().cloned().map(Into::into).collect();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        let workers = sort_workers(worker_ids);
        let users = zeroed(&workers, &classes);
        Dispatcher {
            user_gen: UserGen::new(&classes),
            classes,
            workers,
            users,
            active: Vec::new(),
            next_worker: 0,
            current: 0,
            target: 0,
            per_iteration: 1,
            wait_between: 0.0,
            phase: Phase::Done,
            rebalance: false,
            try_fixed: true,
            no_user_to_spawn: false,
        }
    }

    /// Starts a ramp from the current counts to `target` users at `rate` users per second.
    pub fn new_dispatch(&mut self, target: u64, rate: f64) {
        self.target = target;
        // Saturating: an absurd rate is one iteration, not an overflow.
        self.per_iteration = (rate.floor().min(u32::MAX as f64) as u64).max(1);
        self.wait_between = self.per_iteration as f64 / rate;
        self.current = self.current_count();
        self.phase = Phase::Start;
    }

    /// Seconds between two iterations of the current ramp.
    pub fn wait_between(&self) -> f64 {
        self.wait_between
    }

    /// The user count the current ramp goes to.
    pub fn target(&self) -> u64 {
        self.target
    }

    pub fn current_count(&self) -> u64 {
        self.users.values().flat_map(|c| c.values()).sum()
    }

    /// Workers in dispatch order.
    pub fn workers(&self) -> &[String] {
        &self.workers
    }

    pub fn classes(&self) -> &[DispatchClass] {
        &self.classes
    }

    /// The distribution as it stands (the last iteration's, or a pending rebalance's).
    pub fn distribution(&self) -> &Distribution {
        &self.users
    }

    /// Whether the next iteration is a rebalanced distribution (a worker joined or left), which
    /// a master sends at once rather than at the ramp's next tick.
    pub fn rebalance_pending(&self) -> bool {
        self.rebalance
    }

    /// Whether a cycle is under way (Locust's `dispatch_in_progress`).
    pub fn in_progress(&self) -> bool {
        self.phase != Phase::Done
    }

    /// A worker joined (Locust's `add_worker`): the next iteration is a rebalanced distribution.
    /// A worker already known is not added twice.
    pub fn add_worker(&mut self, id: &str) {
        if self.workers.iter().any(|w| w == id) {
            return;
        }
        let mut ids = self.workers.clone();
        ids.push(id.to_string());
        self.workers = sort_workers(&ids);
        self.prepare_rebalance();
    }

    /// A worker left (Locust's `remove_worker`): its users move to the others at the next
    /// iteration. Removing the last worker only forgets it, as Locust does; its users stay in
    /// [`Dispatcher::distribution`] until a worker joins.
    pub fn remove_worker(&mut self, id: &str) {
        self.workers.retain(|w| w != id);
        if self.workers.is_empty() {
            return;
        }
        self.prepare_rebalance();
    }

    /// Locust's `_prepare_rebalance` + `_distribute_users`: the current count dealt out from
    /// zero with fresh generators, which then carry on the ramp so it stays continuous.
    fn prepare_rebalance(&mut self) {
        self.users = zeroed(&self.workers, &self.classes);
        self.try_fixed = true;
        let mut gen = UserGen::new(&self.classes);
        let mut users = self.users.clone();
        let mut active = Vec::new();
        let mut next_worker = 0;
        for _ in 0..self.current {
            let Some(class) = gen.next(&mut self.try_fixed, &self.classes, &self.users) else {
                break;
            };
            let worker = self.workers[next_worker].clone();
            next_worker = (next_worker + 1) % self.workers.len();
            bump(&mut users, &worker, &class);
            active.push((worker, class));
        }
        self.users = users;
        self.active = active;
        self.user_gen = gen;
        self.next_worker = next_worker;
        self.rebalance = true;
    }

    /// The next iteration's distribution, or `None` when the cycle is complete. A cycle to the
    /// current count yields the current distribution once (so a `spawn` is still sent).
    pub fn next_iteration(&mut self) -> Option<Distribution> {
        match self.phase {
            Phase::Done => return None,
            Phase::Start => {
                self.phase = Phase::Ramping;
                if std::mem::take(&mut self.rebalance) || self.current == self.target {
                    if self.current == self.target {
                        self.phase = Phase::Done;
                    }
                    return Some(self.users.clone());
                }
            }
            Phase::Ramping => {
                // Python checks these right after resuming from the previous yield.
                if std::mem::take(&mut self.rebalance) {
                    return Some(self.users.clone());
                }
                if std::mem::take(&mut self.no_user_to_spawn) {
                    self.phase = Phase::Done;
                    return None;
                }
            }
        }
        if self.current < self.target && !self.workers.is_empty() {
            self.add_users();
        } else if self.current > self.target {
            self.remove_users();
        } else {
            self.phase = Phase::Done;
            return None;
        }
        Some(self.users.clone())
    }

    fn add_users(&mut self) {
        let goal = self
            .current
            .saturating_add(self.per_iteration)
            .min(self.target);
        loop {
            let next = self
                .user_gen
                .next(&mut self.try_fixed, &self.classes, &self.users);
            let Some(class) = next else {
                self.no_user_to_spawn = true;
                break;
            };
            let worker = self.workers[self.next_worker % self.workers.len()].clone();
            self.next_worker = (self.next_worker + 1) % self.workers.len();
            bump(&mut self.users, &worker, &class);
            self.current += 1;
            self.active.push((worker, class));
            if self.current >= goal {
                break;
            }
        }
    }

    fn remove_users(&mut self) {
        let goal = self
            .current
            .saturating_sub(self.per_iteration)
            .max(self.target);
        loop {
            let Some((worker, class)) = self.active.pop() else {
                // Nothing left to stop: Locust would yield the same counts forever.
                self.phase = Phase::Done;
                return;
            };
            if let Some(n) = self.users.get_mut(&worker).and_then(|c| c.get_mut(&class)) {
                *n = n.saturating_sub(1);
            }
            self.current -= 1;
            self.try_fixed = true;
            if self.current == 0 || self.current <= goal {
                return;
            }
        }
    }
}

/// Every worker with every class at zero.
fn zeroed(workers: &[String], classes: &[DispatchClass]) -> Distribution {
    workers
        .iter()
        .map(|w| {
            (
                w.clone(),
                classes.iter().map(|c| (c.name.clone(), 0)).collect(),
            )
        })
        .collect()
}

fn bump(users: &mut Distribution, worker: &str, class: &str) {
    *users
        .entry(worker.to_string())
        .or_default()
        .entry(class.to_string())
        .or_insert(0) += 1;
}

/// Per-class totals of a distribution (what a local runner applies).
pub fn class_totals(dist: &Distribution) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for counts in dist.values() {
        for (class, n) in counts {
            *totals.entry(class.clone()).or_insert(0) += n;
        }
    }
    totals
}

/// The final per-class counts of `total` users over these weights, without a ramp.
pub fn distribute(classes: &[ClassWeight], total: u64) -> BTreeMap<String, u64> {
    let mut d = Dispatcher::new(&["local".to_string()], classes);
    d.new_dispatch(total, f64::MAX);
    let mut last = BTreeMap::new();
    while let Some(dist) = d.next_iteration() {
        last = class_totals(&dist);
    }
    if last.is_empty() {
        last = classes.iter().map(|c| (c.name.clone(), 0)).collect();
    }
    last
}

#[cfg(test)]
mod tests;
