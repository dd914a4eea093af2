//! Request counting for the reference service: how many requests each route saw, by method
//! and status, so tests and container checks can see what a load test really sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

/// What one (route, method, status) saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountEntry {
    pub route: String,
    pub method: String,
    pub status: u16,
    pub count: u64,
}

type Key = (String, String, u16);

/// A cheap, cloneable handle on the service's request counts.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    inner: Arc<Mutex<BTreeMap<Key, u64>>>,
}

impl Counters {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, u64>> {
        // A panic while holding the lock cannot leave a count half-written; keep counting.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, route: &str, method: &str, status: u16) {
        *self
            .lock()
            .entry((route.to_string(), method.to_string(), status))
            .or_insert(0) += 1;
    }

    /// The count for one route, method and status.
    pub fn get(&self, route: &str, method: &str, status: u16) -> u64 {
        self.lock()
            .get(&(route.to_string(), method.to_string(), status))
            .copied()
            .unwrap_or(0)
    }

    /// All statuses of one route and method.
    pub fn route_total(&self, route: &str, method: &str) -> u64 {
        self.lock()
            .iter()
            .filter(|((r, m, _), _)| r == route && m == method)
            .map(|(_, c)| c)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    /// Every non-zero count, ordered by route, method, status.
    pub fn snapshot(&self) -> Vec<CountEntry> {
        self.lock()
            .iter()
            .map(|((route, method, status), count)| CountEntry {
                route: route.clone(),
                method: method.clone(),
                status: *status,
                count: *count,
            })
            .collect()
    }

    pub fn reset(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_key() {
        let c = Counters::new();
        c.add("/a", "GET", 200);
        c.add("/a", "GET", 200);
        c.add("/a", "GET", 404);
        c.clone().add("/b", "POST", 200);
        assert_eq!(c.get("/a", "GET", 200), 2);
        assert_eq!(c.get("/a", "POST", 200), 0);
        assert_eq!(c.route_total("/a", "GET"), 3);
        assert_eq!(c.total(), 4);
        let snap = c.snapshot();
        assert_eq!(snap.len(), 3);
        assert_eq!(snap[0].route, "/a");
        assert_eq!(snap[2].route, "/b");
        c.reset();
        assert_eq!(c.total(), 0);
    }
}
