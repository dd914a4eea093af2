//! Class names across the cluster: a worker reports every class it has in `user_classes_count`
//! (zeros included, as Locust's workers do too), so the master can tell when a worker lacks
//! one of its own classes (a master and workers built from different binaries) and say so,
//! once per registration, instead of letting that class's share of users silently not run.

use super::{log, Effect, Level, Master};
use crate::cluster::message::ClassCounts;

impl Master {
    /// Logs an error the first time `node`'s report shows it lacks one of the master's classes.
    pub(super) fn check_worker_classes(
        &mut self,
        node: &str,
        reported: &ClassCounts,
        out: &mut Vec<Effect>,
    ) {
        let missing: Vec<&str> = self
            .class_names
            .iter()
            .filter(|c| !reported.0.iter().any(|(name, _)| name == *c))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return;
        }
        let Some(w) = self.workers.iter_mut().find(|w| w.id == node) else {
            return;
        };
        if w.classes_warned {
            return;
        }
        w.classes_warned = true;
        let theirs: Vec<&str> = reported.0.iter().map(|(n, _)| n.as_str()).collect();
        log(out, Level::Error, mismatch_text(node, &missing, &theirs));
    }
}

/// The master's message for a worker without some of its classes.
pub fn mismatch_text(node: &str, missing: &[&str], theirs: &[&str]) -> String {
    format!(
        "Worker {node} has no user class {} (its classes are {}): are master and workers the same binary? Users of that class will not run on it",
        missing.join(", "),
        if theirs.is_empty() { "none".to_string() } else { theirs.join(", ") }
    )
}
