//! Comparison baseline for `perf/bench.sh`: Goose 0.19 running its own engine (its own
//! users, scheduler, metrics and report) with one scenario that does `GET /` with no wait.
//!
//! Goose parses the command line itself (`--host`, `-u`, `-r`, `-t`, ...), so the one knob of
//! our own is an environment variable: `GOOSE_BENCH_PACED=1` gives the scenario a 1–3 s wait
//! between requests (the idle-memory and 5,000-user runs). After Goose's own
//! report, one machine-readable line `goose-bench: requests=N failures=N duration_s=N` is
//! printed so the benchmark script does not have to scrape Goose's tables.

use std::time::Duration;

use goose::prelude::*;

async fn get_root(user: &mut GooseUser) -> TransactionResult {
    let _response = user.get("/").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let mut scenario = scenario!("GetRoot").register_transaction(transaction!(get_root));
    if std::env::var_os("GOOSE_BENCH_PACED").is_some_and(|v| v == "1") {
        scenario = scenario.set_wait_time(Duration::from_secs(1), Duration::from_secs(3))?;
    }
    let metrics = GooseAttack::initialize()?
        .register_scenario(scenario)
        .execute()
        .await?;

    let (requests, failures) =
        metrics
            .requests
            .values()
            .fold((0usize, 0usize), |(total, failed), aggregate| {
                (
                    total + aggregate.success_count + aggregate.fail_count,
                    failed + aggregate.fail_count,
                )
            });
    println!(
        "goose-bench: requests={requests} failures={failures} duration_s={}",
        metrics.duration
    );
    Ok(())
}
