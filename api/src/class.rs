//! A user class: a Goose scenario plus what Locust knows of a class and Goose does not.

use goose::goose::Scenario;

/// A Locust user class. The scenario's name is the class name, its weight the class weight,
/// its `transaction_wait` the class's `wait_time = between(min, max)`; each transaction's name
/// (`Transaction::set_name`) is what tags refer to.
///
/// ```
/// use std::time::Duration;
/// use skein_api::prelude::*;
///
/// async fn browse(user: &mut GooseUser) -> TransactionResult {
///     Request::get("/catalogue").send(user).await;
///     Ok(())
/// }
///
/// async fn checkout(user: &mut GooseUser) -> TransactionResult {
///     Request::post("/cart/checkout").expect_status(&[200, 402]).send(user).await;
///     Ok(())
/// }
///
/// async fn stress(user: &mut GooseUser) -> TransactionResult {
///     Request::get("/").send(user).await;
///     Ok(())
/// }
///
/// # fn main() -> Result<(), skein_api::goose::GooseError> {
/// // `-T buy` runs only `checkout`; `-E buy` everything else.
/// let shopper = UserClass::new(
///     scenario!("ShopperUser")
///         .set_wait_time(Duration::from_millis(500), Duration::from_secs(2))?
///         .register_transaction(transaction!(browse).set_name("browse").set_weight(4)?)
///         .register_transaction(transaction!(checkout).set_name("checkout")),
/// )
/// .tag("browse", &["read"])
/// .tag("checkout", &["buy", "write"]);
///
/// // Left out of a run unless named on the command line (`skein ... StressUser`).
/// let stress = UserClass::new(
///     scenario!("StressUser").register_transaction(transaction!(stress).set_name("root")),
/// )
/// .named_only();
///
/// assert_eq!(shopper.name(), "ShopperUser");
/// assert_eq!(shopper.tags_of("checkout").collect::<Vec<_>>(), ["buy", "write"]);
/// assert!(stress.named_only && !shopper.named_only);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UserClass {
    /// The Goose scenario: the class's name, weight, wait time and transactions.
    pub scenario: Scenario,
    /// Runs only when named on the command line (benchmarks, special workloads).
    pub named_only: bool,
    /// Locust `@tag`s, by transaction name.
    pub tags: Vec<(String, Vec<String>)>,
}

impl UserClass {
    /// The class of `scenario`, untagged, run by default.
    pub fn new(scenario: Scenario) -> Self {
        UserClass {
            scenario,
            named_only: false,
            tags: Vec::new(),
        }
    }

    /// Makes the class run only when named on the command line, like a Locust class that is
    /// not picked unless asked for.
    pub fn named_only(mut self) -> Self {
        self.named_only = true;
        self
    }

    /// Tags the transaction named `transaction` (its `Transaction::set_name`), as Locust's
    /// `@tag(...)` does: `-T`/`--tags` and `-E`/`--exclude-tags` select by them. Tagging the
    /// same transaction again adds to its tags.
    pub fn tag(mut self, transaction: &str, tags: &[&str]) -> Self {
        self.tags.push((
            transaction.to_string(),
            tags.iter().map(|t| t.to_string()).collect(),
        ));
        self
    }

    /// The class name (the scenario's name).
    pub fn name(&self) -> &str {
        &self.scenario.name
    }

    /// The tags of the transaction named `transaction`, in the order they were given.
    pub fn tags_of<'a>(&'a self, transaction: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(move |(t, _)| t == transaction)
            .flat_map(|(_, tags)| tags.iter().map(String::as_str))
    }
}
