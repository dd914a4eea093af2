//! A user class: a Goose scenario plus what Locust knows of a class and Goose does not.

use goose::goose::Scenario;

/// A Locust user class. The scenario's name is the class name, its weight the class weight,
/// its `transaction_wait` the class's `wait_time = between(min, max)`.
#[derive(Clone)]
pub struct UserClass {
    pub scenario: Scenario,
    /// Runs only when named on the command line (benchmarks, special workloads).
    pub named_only: bool,
    /// Locust `@tag`s, by transaction name.
    pub tags: Vec<(String, Vec<String>)>,
}

impl UserClass {
    pub fn new(scenario: Scenario) -> Self {
        UserClass {
            scenario,
            named_only: false,
            tags: Vec::new(),
        }
    }

    pub fn named_only(mut self) -> Self {
        self.named_only = true;
        self
    }

    /// Tags the transaction named `transaction` (its `Transaction::set_name`).
    pub fn tag(mut self, transaction: &str, tags: &[&str]) -> Self {
        self.tags.push((
            transaction.to_string(),
            tags.iter().map(|t| t.to_string()).collect(),
        ));
        self
    }

    pub fn name(&self) -> &str {
        &self.scenario.name
    }

    pub fn tags_of<'a>(&'a self, transaction: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(move |(t, _)| t == transaction)
            .flat_map(|(_, tags)| tags.iter().map(String::as_str))
    }
}
