//! Which user classes run where, as Locust's `UsersDispatcher` decides it: pure code, no clock.
//!
//! Classes are interleaved by a Kullback-Leibler generator over their weights (so any prefix of
//! the sequence is as close to the weights as possible), handed to workers round-robin, and a
//! ramp moves `max(1, floor(rate))` users per iteration, one iteration every `users/rate`
//! seconds. Ramping down removes the most recently added users first. A local run is the
//! one-worker case; the distributed master will drive the same type with many workers.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// A class as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassWeight {
    pub name: String,
    pub weight: f64,
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

/// One dispatch cycle after another: call [`Dispatcher::new_dispatch`] with a target, then take
/// iterations until it returns `None`. The caller sleeps [`Dispatcher::wait_between`] between them.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    classes: Vec<ClassWeight>,
    workers: Vec<String>,
    users: Distribution,
    active: Vec<(String, String)>,
    user_gen: KlGenerator,
    next_worker: usize,
    target: u64,
    per_iteration: u64,
    wait_between: f64,
    first_iteration: bool,
}

impl Dispatcher {
    pub fn new(worker_ids: &[String], classes: &[ClassWeight]) -> Self {
        let mut classes = classes.to_vec();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        let workers = sort_workers(worker_ids);
        let users = workers
            .iter()
            .map(|w| {
                (
                    w.clone(),
                    classes.iter().map(|c| (c.name.clone(), 0)).collect(),
                )
            })
            .collect();
        Dispatcher {
            user_gen: KlGenerator::new(&classes),
            classes,
            workers,
            users,
            active: Vec::new(),
            next_worker: 0,
            target: 0,
            per_iteration: 1,
            wait_between: 0.0,
            first_iteration: false,
        }
    }

    /// Starts a ramp from the current counts to `target` users at `rate` users per second.
    pub fn new_dispatch(&mut self, target: u64, rate: f64) {
        self.target = target;
        // Saturating: an absurd rate is one iteration, not an overflow.
        self.per_iteration = (rate.floor().min(u32::MAX as f64) as u64).max(1);
        self.wait_between = self.per_iteration as f64 / rate;
        self.first_iteration = true;
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

    pub fn workers(&self) -> &[String] {
        &self.workers
    }

    pub fn classes(&self) -> &[ClassWeight] {
        &self.classes
    }

    /// The next iteration's distribution, or `None` when the ramp is complete.
    /// A ramp to the current count yields the current distribution once.
    pub fn next_iteration(&mut self) -> Option<Distribution> {
        let current = self.current_count();
        if current == self.target {
            if std::mem::take(&mut self.first_iteration) {
                return Some(self.users.clone());
            }
            return None;
        }
        self.first_iteration = false;
        if self.workers.is_empty() || self.classes.iter().all(|c| c.weight <= 0.0) {
            return None;
        }
        if current < self.target {
            let goal = current.saturating_add(self.per_iteration).min(self.target);
            for _ in current..goal {
                let Some(class) = self.user_gen.next() else {
                    break;
                };
                let worker = self.workers[self.next_worker % self.workers.len()].clone();
                self.next_worker = (self.next_worker + 1) % self.workers.len();
                *self
                    .users
                    .entry(worker.clone())
                    .or_default()
                    .entry(class.clone())
                    .or_insert(0) += 1;
                self.active.push((worker, class));
            }
        } else {
            let goal = current.saturating_sub(self.per_iteration).max(self.target);
            let mut count = current;
            while count > goal {
                let Some((worker, class)) = self.active.pop() else {
                    break;
                };
                if let Some(n) = self.users.get_mut(&worker).and_then(|c| c.get_mut(&class)) {
                    *n -= 1;
                }
                count -= 1;
            }
        }
        Some(self.users.clone())
    }
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
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Option<Value> {
        let path = crate::testing::shared_path("locust/samples/dispatch-vectors.json")?;
        Some(serde_json::from_str(&std::fs::read_to_string(path).ok()?).unwrap())
    }

    #[test]
    fn kl_generator_interleaves_by_weight() {
        let classes = vec![
            ClassWeight {
                name: "A".into(),
                weight: 5.0,
            },
            ClassWeight {
                name: "B".into(),
                weight: 1.0,
            },
        ];
        // Locust's docstring says AAABAAAAABAA, but its generator yields this (see the vectors).
        let seq: String = KlGenerator::new(&classes).take(12).collect();
        assert_eq!(seq, "AABAAAAABAAA");
    }

    #[test]
    fn matches_locust_dispatch_vectors() {
        let Some(vectors) = vectors() else {
            panic!("dispatch-vectors.json not found: set SKEIN_SHARED to the shared/ folder");
        };
        let mut checked = 0;
        for case in vectors.as_array().unwrap() {
            if let Some(sequence) = case.get("sequence") {
                let (a, b) = if case["case"].as_str().unwrap().contains("Heavy") {
                    (("HeavyUser", 3.0), ("LightUser", 1.0))
                } else {
                    (("A", 5.0), ("B", 1.0))
                };
                let classes = [
                    ClassWeight {
                        name: a.0.into(),
                        weight: a.1,
                    },
                    ClassWeight {
                        name: b.0.into(),
                        weight: b.1,
                    },
                ];
                let got: Vec<String> = KlGenerator::new(&classes).take(12).collect();
                let want: Vec<String> = match sequence {
                    Value::String(s) => s.chars().map(|c| c.to_string()).collect(),
                    other => other
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect(),
                };
                let got: Vec<String> = if matches!(sequence, Value::String(_)) {
                    got.iter().map(|n| n[..1].to_string()).collect()
                } else {
                    got
                };
                assert_eq!(got, want, "{}", case["case"]);
                checked += 1;
                continue;
            }
            let classes: Vec<ClassWeight> = case["user_classes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| ClassWeight {
                    name: c["name"].as_str().unwrap().into(),
                    weight: c["weight"].as_f64().unwrap(),
                })
                .collect();
            // Fixed-count classes are not part of skein's user classes yet.
            if case["user_classes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["fixed_count"].as_u64() != Some(0))
            {
                continue;
            }
            let workers: Vec<String> = case["worker_ids_in"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap().to_string())
                .collect();
            let mut d = Dispatcher::new(&workers, &classes);
            let expected_order: Vec<String> = case["worker_order_after_sort"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap().to_string())
                .collect();
            assert_eq!(d.workers(), expected_order.as_slice(), "{}", case["case"]);
            for step in case["steps"].as_array().unwrap() {
                d.new_dispatch(
                    step["target_user_count"].as_u64().unwrap(),
                    step["spawn_rate"].as_f64().unwrap(),
                );
                assert_eq!(
                    d.wait_between(),
                    step["wait_between_dispatch_s"].as_f64().unwrap()
                );
                for expected in step["iterations"].as_array().unwrap() {
                    let got = d.next_iteration().expect("an iteration");
                    let got = serde_json::to_value(&got).unwrap();
                    assert_eq!(&got, expected, "{}", case["case"]);
                    checked += 1;
                }
                assert!(
                    d.next_iteration().is_none(),
                    "{}: ramp should be over",
                    case["case"]
                );
            }
        }
        assert!(checked > 5, "too few iterations checked: {checked}");
    }

    #[test]
    fn distribute_splits_exactly() {
        let classes = vec![
            ClassWeight {
                name: "HighLoadUser".into(),
                weight: 1.0,
            },
            ClassWeight {
                name: "ImageClassifierUser".into(),
                weight: 3.0,
            },
        ];
        let d = distribute(&classes, 10);
        assert_eq!(d.values().sum::<u64>(), 10);
        assert!(d["ImageClassifierUser"] >= 7);
    }
}
