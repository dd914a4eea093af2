//! A user class prepared for running: its Goose scenario's transactions split into on-start,
//! weighted and on-stop lists, after Locust's tag filtering.

use std::sync::Arc;
use std::time::Duration;

use goose::goose::Transaction;
use rand::Rng;
use skein_api::UserClass;

use super::dispatch::ClassWeight;

#[derive(Clone)]
pub struct ClassPlan {
    pub name: String,
    pub weight: f64,
    pub index: usize,
    pub wait: Option<(Duration, Duration)>,
    pub host: Option<String>,
    pub on_start: Vec<Transaction>,
    pub tasks: Vec<Transaction>,
    /// Cumulative task weights, for a weighted random pick (Locust's `random.choice` over repeated tasks).
    cumulative: Vec<u64>,
    pub on_stop: Vec<Transaction>,
}

/// A transaction's display name, or `task N` for an unnamed one.
pub fn task_name(t: &Transaction, i: usize) -> String {
    let name = t.name.name_for_transaction();
    if name.is_empty() {
        format!("task {}", i + 1)
    } else {
        name.to_string()
    }
}

impl ClassPlan {
    /// Applies `-T/--tags` and `-E/--exclude-tags` as Locust does: with tags, only tagged tasks
    /// carrying one of them remain; excluded tags remove tasks. `None` when no task remains.
    pub fn new(
        class: &UserClass,
        index: usize,
        tags: Option<&[String]>,
        exclude: Option<&[String]>,
    ) -> Option<Self> {
        let keep = |t: &Transaction| {
            let name = t.name.name_for_transaction();
            let mut own = class.tags_of(name);
            let included = match tags {
                Some(want) => class.tags_of(name).any(|tag| want.iter().any(|w| w == tag)),
                None => true,
            };
            let excluded = match exclude {
                Some(ex) => own.any(|tag| ex.iter().any(|e| e == tag)),
                None => false,
            };
            included && !excluded
        };
        let scenario = &class.scenario;
        let mut on_start = Vec::new();
        let mut tasks = Vec::new();
        let mut on_stop = Vec::new();
        for t in &scenario.transactions {
            if t.on_start {
                on_start.push(t.clone());
            }
            if t.on_stop {
                on_stop.push(t.clone());
            }
            if !t.on_start && !t.on_stop && keep(t) {
                tasks.push(t.clone());
            }
        }
        if tasks.is_empty() {
            return None;
        }
        let mut total = 0;
        let cumulative = tasks
            .iter()
            .map(|t| {
                total += t.weight.max(1) as u64;
                total
            })
            .collect();
        Some(ClassPlan {
            name: scenario.name.to_string(),
            weight: scenario.weight as f64,
            index,
            wait: scenario.transaction_wait,
            host: scenario.host.clone(),
            on_start,
            tasks,
            cumulative,
            on_stop,
        })
    }

    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        let r = rng.random_range(0..total);
        self.cumulative.partition_point(|&c| c <= r)
    }

    pub fn wait_time(&self, rng: &mut impl Rng) -> Duration {
        match self.wait {
            Some((min, max)) if max > min => {
                Duration::from_secs_f64(rng.random_range(min.as_secs_f64()..=max.as_secs_f64()))
            }
            Some((min, _)) => min,
            None => Duration::ZERO,
        }
    }

    /// Task ratios within the class (for `/tasks` and the report), by task name.
    pub fn task_ratios(&self) -> Vec<(String, f64)> {
        let total = *self.cumulative.last().unwrap_or(&1) as f64;
        let mut out: Vec<(String, f64)> = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let name = task_name(t, i);
            let share = t.weight.max(1) as f64 / total;
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, r)) => *r += share,
                None => out.push((name, share)),
            }
        }
        out
    }

    pub fn class_weight(&self) -> ClassWeight {
        ClassWeight {
            name: self.name.clone(),
            weight: self.weight,
        }
    }
}

/// Chooses the classes of a run: those named (every name must exist), or every class that is
/// not `named_only`. Returns the unknown names as the error, as Locust's "Unknown User(s)".
pub fn select_classes(
    catalogue: &[UserClass],
    named: &[String],
    tags: Option<&[String]>,
    exclude: Option<&[String]>,
) -> Result<Vec<Arc<ClassPlan>>, Vec<String>> {
    let unknown: Vec<String> = named
        .iter()
        .filter(|n| !catalogue.iter().any(|c| c.name() == n.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    Ok(catalogue
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            if named.is_empty() {
                !c.named_only
            } else {
                named.iter().any(|n| n == c.name())
            }
        })
        .filter_map(|(i, c)| ClassPlan::new(c, i, tags, exclude))
        .map(Arc::new)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use goose::goose::{Scenario, TransactionResult};
    use goose::prelude::GooseUser;
    use goose::transaction;

    async fn noop(_u: &mut GooseUser) -> TransactionResult {
        Ok(())
    }

    fn class() -> UserClass {
        let s = Scenario::new("Demo")
            .register_transaction(transaction!(noop).set_name("a").set_weight(3).unwrap())
            .register_transaction(transaction!(noop).set_name("b"))
            .register_transaction(transaction!(noop).set_name("start").set_on_start());
        UserClass::new(s).tag("a", &["x"]).tag("b", &["y"])
    }

    #[test]
    fn weights_and_on_start_are_split() {
        let plan = ClassPlan::new(&class(), 0, None, None).unwrap();
        assert_eq!(plan.tasks.len(), 2);
        assert_eq!(plan.on_start.len(), 1);
        let ratios = plan.task_ratios();
        assert_eq!(ratios, vec![("a".into(), 0.75), ("b".into(), 0.25)]);
        let mut rng = rand::rng();
        let picks = (0..4000).filter(|_| plan.pick(&mut rng) == 0).count();
        assert!((2700..3300).contains(&picks), "{picks}");
    }

    #[test]
    fn tags_filter_tasks() {
        let only_x = ClassPlan::new(&class(), 0, Some(&["x".into()]), None).unwrap();
        assert_eq!(only_x.task_ratios(), vec![("a".into(), 1.0)]);
        let not_x = ClassPlan::new(&class(), 0, None, Some(&["x".into()])).unwrap();
        assert_eq!(not_x.task_ratios(), vec![("b".into(), 1.0)]);
        assert!(ClassPlan::new(&class(), 0, Some(&["z".into()]), None).is_none());
    }

    #[test]
    fn unknown_classes_are_named() {
        let err = select_classes(&[class()], &["Nope".into()], None, None)
            .err()
            .unwrap();
        assert_eq!(err, vec!["Nope".to_string()]);
    }
}
