//! Comparison baseline for `perf/bench.sh`: Goose 0.19 running its own engine (its own
//! users, scheduler, metrics and report) with one scenario that does `GET /` with no wait.
//!
//! Goose parses the command line itself (`--host`, `-u`, `-r`, `-t`, ...). After Goose's own
//! report, one machine-readable line `goose-bench: requests=N failures=N duration_s=N` is
//! printed so the benchmark script does not have to scrape Goose's tables.

use goose::prelude::*;

async fn get_root(user: &mut GooseUser) -> TransactionResult {
    let _response = user.get("/").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let metrics = GooseAttack::initialize()?
        .register_scenario(scenario!("GetRoot").register_transaction(transaction!(get_root)))
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
