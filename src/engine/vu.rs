//! The virtual user: the unit both load models drive. It owns its Goose user, its HTTP session
//! (keep-alive connection and cookies, in a [`UserContext`]) and its random source, and runs one
//! iteration (one weighted-random transaction of its class) when told. Its on-start
//! transactions run before its first iteration, its on-stop ones when it is finished.
//!
//! Nothing in it waits between iterations or decides when to stop: the closed model
//! (`super::user::UserTask`) loops over it with the class's waits, the open model
//! ([`super::open`]) starts its iterations on a schedule, possibly each in a different task (the
//! user moves with its session). Cancelling is the caller's: dropping a running iteration
//! interrupts it (a killed user), which costs the user its open connection but not its class.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use goose::config::GooseConfiguration;
use goose::goose::{GooseUser, Transaction, TransactionError};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use skein_api::engine_support::{RequestSink, UserContext};
use url::Url;

use super::class::{task_name, ClassPlan};
use super::goose_metrics::GooseMetrics;
use super::hub::HubHandle;
use super::runner::RunnerError;
use super::session::SessionFactory;

/// How long on-stop transactions may run once a user is finished.
pub const ON_STOP_LIMIT: Duration = Duration::from_secs(10);

pub struct VirtualUser {
    class: Arc<ClassPlan>,
    user: GooseUser,
    hub: HubHandle,
    scope: UserContext,
    /// Goose's own requests (`user.get`, …), reported after each transaction.
    goose_metrics: GooseMetrics,
    sink: Arc<dyn RequestSink>,
    rng: SmallRng,
    started: bool,
    iterations: u64,
}

impl VirtualUser {
    /// A user of `class` whose requests go to `base_url` and are reported to `hub`.
    pub fn new(
        class: Arc<ClassPlan>,
        base_url: Url,
        sessions: &SessionFactory,
        hub: HubHandle,
    ) -> Result<Self, RunnerError> {
        let (client, faults) = sessions.client()?;
        let mut user = GooseUser::new(
            class.index,
            Arc::from(class.name.as_str()),
            base_url,
            &GooseConfiguration::default(),
            0,
            Some(client),
        )
        .map_err(|e| RunnerError::CreateUser {
            class: class.name.clone(),
            reason: e.to_string(),
        })?;
        let goose_metrics = GooseMetrics::attach(&mut user, faults);
        let sink = hub.sink();
        Ok(VirtualUser {
            class,
            user,
            scope: UserContext::new(sink.clone()),
            goose_metrics,
            sink,
            hub,
            rng: SmallRng::from_os_rng(),
            started: false,
            iterations: 0,
        })
    }

    pub fn class(&self) -> &Arc<ClassPlan> {
        &self.class
    }

    /// Iterations run so far (on-start transactions not counted).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Whether the user holds an HTTP session between iterations (for tests of its survival).
    pub fn has_session(&self) -> bool {
        self.scope.has_session()
    }

    /// Runs the class's on-start transactions, once; later calls do nothing. [`iterate`]
    /// calls it itself, so only a caller that wants the start timed apart needs it.
    ///
    /// [`iterate`]: Self::iterate
    pub async fn start(&mut self, scheduled_at: Option<f64>) {
        if self.started {
            return;
        }
        self.started = true;
        let class = self.class.clone();
        for (i, t) in class.on_start.iter().enumerate() {
            self.run_one(t, i, scheduled_at).await;
        }
    }

    /// One iteration: one weighted-random transaction of the class (after the on-start ones,
    /// the first time). `scheduled_at` (epoch seconds) is when the open model meant it to
    /// start; its requests carry it. (A class always has a transaction: `ClassPlan::new`
    /// refuses one without.)
    pub async fn iterate(&mut self, scheduled_at: Option<f64>) {
        self.start(scheduled_at).await;
        let class = self.class.clone();
        let i = class.pick(&mut self.rng);
        self.run_one(&class.tasks[i], i, scheduled_at).await;
        self.iterations += 1;
    }

    /// Lets the user's connection release its buffers before a long wait; the next request
    /// resumes it.
    pub fn park(&mut self) {
        self.scope.park();
    }

    /// The class's wait after an iteration (the closed model's pacing).
    pub fn wait_time(&mut self) -> Duration {
        self.class.wait_time(&mut self.rng)
    }

    /// Runs the on-stop transactions (each bounded by [`ON_STOP_LIMIT`]); only for a user that
    /// started.
    pub async fn finish(mut self) {
        if !self.started {
            return;
        }
        let class = self.class.clone();
        for (i, t) in class.on_stop.iter().enumerate() {
            let _ = tokio::time::timeout(ON_STOP_LIMIT, self.run_one(t, i, None)).await;
        }
    }

    async fn run_one(&mut self, t: &Transaction, i: usize, scheduled_at: Option<f64>) {
        let user = &mut self.user;
        let outcome = self
            .scope
            .run(
                scheduled_at,
                AssertUnwindSafe((t.function)(user)).catch_unwind(),
            )
            .await;
        // Also after a failed transaction: its requests were sent.
        self.goose_metrics
            .collect(&mut self.user, &self.sink, scheduled_at)
            .await;
        let (msg, what) = match outcome {
            Ok(Ok(())) => return,
            // `set_failure`'s error (or Goose's `error_on_fail`): the request is recorded as
            // failed, as Locust's `response.failure()`, which raises nothing.
            Ok(Err(e)) if matches!(*e, TransactionError::RequestFailed { .. }) => return,
            Ok(Err(e)) => (e.to_string(), "returned an error"),
            Err(panic) => (panic_text(panic), "panicked"),
        };
        let traceback = format!(
            "  {} {}: transaction '{}'\n",
            self.class.name,
            what,
            task_name(t, i)
        );
        self.hub.exception(msg, traceback).await;
    }
}

impl Drop for VirtualUser {
    /// A user dropped mid-transaction: the requests it finished are still recorded (after
    /// a completed transaction there is nothing left, so this costs nothing).
    fn drop(&mut self) {
        self.goose_metrics
            .collect_detached(&mut self.user, self.sink.clone());
    }
}

fn panic_text(panic: Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}
