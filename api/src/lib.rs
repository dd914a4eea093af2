//! The scenario-facing API of skein.
//!
//! Scenarios are Goose [`Scenario`](goose::goose::Scenario)s whose transactions make requests
//! through [`Request`], which gives them Locust's semantics (the response time runs to the end
//! of the body, the content length is recorded, a status >= 400 fails unless accepted) and
//! reports each request to whatever [`RequestSink`] the engine put in scope for the user's task.
//! [`UserClass`] wraps a scenario with what Locust knows of a class and Goose does not
//! (tags, and whether it runs only when named).

mod body;
mod class;
mod fault;
mod multipart;
mod pyerr;
mod record;
mod request;
pub mod session;
mod wire;

pub use body::{max_body_size, set_max_body_size, DEFAULT_MAX_BODY_SIZE};
pub use class::UserClass;
pub use multipart::Multipart;
pub use pyerr::str_repr;
pub use record::{
    epoch_seconds, record, with_sink, Failure, RecordFuture, RequestRecord, RequestSink,
    UserContext,
};
pub use request::{Request, Response};
pub use session::tls_config;

/// Goose, re-exported so a workload crate uses the exact version the engine drives.
pub use goose;
/// The URL type of `GooseUser::base_url`.
pub use url;

/// What a scenario module usually needs.
pub mod prelude {
    pub use crate::{Failure, Multipart, Request, Response, UserClass};
    pub use goose::goose::{Scenario, Transaction, TransactionError, TransactionResult};
    pub use goose::prelude::GooseUser;
    pub use goose::{scenario, transaction};
}
