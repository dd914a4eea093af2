//! Writing a skein scenario: what a load test's user classes are made of.
//!
//! A skein load test is written the way a Goose load test is: async transaction functions
//! grouped into a Goose [`Scenario`](goose::goose::Scenario). The differences are what make
//! the results read like Locust's:
//!
//! - A transaction makes its requests with [`Request`], which gives them Locust's semantics:
//!   the response time runs to the end of the body, the (decoded) content length is recorded,
//!   a status >= 400 fails unless [`Request::expect_status`] accepts it, a
//!   [`Request::check`] can fail a request with its own message, and a request without a
//!   response is recorded with the Python exception text Locust would have written.
//!   [`Request::send`] never fails: the outcome is in the [`Response`] and in the statistics.
//! - A scenario is wrapped in a [`UserClass`], which adds what Locust knows of a class and
//!   Goose does not: `@tag`s per transaction ([`UserClass::tag`]) and whether the class runs
//!   only when named on the command line ([`UserClass::named_only`]). The scenario's name is
//!   the class name, its weight the class weight, its wait time Locust's `wait_time`.
//!
//! `use skein_api::prelude::*;` brings in these types and the Goose names a scenario needs
//! (see [`prelude`]); Goose itself is re-exported as `skein_api::goose`, so that a load test's
//! crate uses exactly the Goose version skein drives.
//!
//! # Example
//!
//! A user class with two weighted transactions: a health check, and a search whose body must
//! be a JSON object with a non-empty `results` array, followed by a look at the first result.
//!
//! ```
//! use std::time::Duration;
//! use skein_api::goose::GooseError;
//! use skein_api::prelude::*;
//!
//! async fn health(user: &mut GooseUser) -> TransactionResult {
//!     Request::get("/health").send(user).await;
//!     Ok(())
//! }
//!
//! async fn search(user: &mut GooseUser) -> TransactionResult {
//!     let response = Request::post("/api/search")
//!         .json(&serde_json::json!({ "q": "cat", "limit": 5 }))
//!         .check(|r| {
//!             let body: serde_json::Value = r.json().map_err(|e| format!("not JSON: {e}"))?;
//!             match body["results"].as_array() {
//!                 Some(results) if !results.is_empty() => Ok(()),
//!                 _ => Err("no results".to_string()),
//!             }
//!         })
//!         .send(user)
//!         .await;
//!     // The outcome is already recorded; a transaction may still act on it: here, open the
//!     // first result, grouped in the statistics under one name whatever its id.
//!     if response.ok() {
//!         let body: serde_json::Value = response.json().unwrap_or_default();
//!         if let Some(id) = body["results"][0]["id"].as_u64() {
//!             Request::get(format!("/api/items/{id}")).name("/api/items/[id]").send(user).await;
//!         }
//!     }
//!     Ok(())
//! }
//!
//! fn searcher() -> Result<UserClass, GooseError> {
//!     Ok(UserClass::new(
//!         scenario!("SearchUser")
//!             .set_weight(2)?
//!             .set_wait_time(Duration::from_secs(1), Duration::from_secs(3))?
//!             .register_transaction(transaction!(health).set_name("health"))
//!             .register_transaction(transaction!(search).set_name("search").set_weight(3)?),
//!     )
//!     .tag("search", &["search"]))
//! }
//!
//! let class = searcher().unwrap();
//! assert_eq!(class.name(), "SearchUser");
//! assert_eq!(class.tags_of("search").collect::<Vec<_>>(), ["search"]);
//! ```
//!
//! The class then goes to skein's entry point with the load test's other classes, which
//! gives the load test skein's whole command line (see skein's README).
//!
//! # Custom clients
//!
//! A request made by other means (another protocol, a client of the scenario's own) is
//! recorded with [`record`], as Locust's `events.request.fire` records it.

#![deny(missing_docs)]

mod body;
mod class;
#[doc(hidden)]
pub mod engine_support;
mod fault;
mod multipart;
mod pyerr;
mod record;
mod request;
mod session;
mod wire;

pub use class::UserClass;
pub use multipart::Multipart;
pub use record::record;
pub use request::{Request, Response};
pub use skein_record::{epoch_seconds, Failure, RequestRecord};

/// Goose, re-exported so a load test's crate uses the exact version the engine drives.
pub use goose;
/// The HTTP method of [`Request::new`], for the methods without a shortcut.
pub use http::Method;
/// The URL type of `GooseUser::base_url`.
pub use url;

/// What a scenario module usually needs: `use skein_api::prelude::*;`.
pub mod prelude {
    pub use crate::{Failure, Multipart, Request, Response, UserClass};
    pub use goose::goose::{Scenario, Transaction, TransactionError, TransactionResult};
    pub use goose::prelude::GooseUser;
    pub use goose::{scenario, transaction};
}
