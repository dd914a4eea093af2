//! The `skein` command: parse the command line, run, exit with Locust's codes.

use std::collections::BTreeMap;
use std::process::ExitCode;

use skein::app;
use skein::config::{self, Command};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    // vars() would panic on a non-UTF-8 variable; such variables are not ours anyway.
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let job = match config::load(std::env::args_os().collect(), &env, home.as_deref(), &cwd) {
        Ok(Command::Run(settings)) => app::Job::Run(settings),
        Ok(Command::Bench(settings)) => app::Job::Bench(settings),
        Ok(Command::PrintHelp(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::PrintVersion(line)) => {
            println!("{line}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("skein: error: {e}");
            return code(e.exit_code());
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("skein: error: cannot start the async runtime: {e}");
            return code(1);
        }
    };
    let shutdown = CancellationToken::new();
    let result = runtime.block_on(async {
        app::on_signals(shutdown.clone());
        app::run_job(job, shutdown).await
    });
    match result {
        Ok(c) => code(c),
        Err(e) => {
            let exit_code = e.downcast_ref::<app::Exit>().map_or(1, |x| x.code);
            eprintln!("skein: error: {e:#}");
            code(exit_code)
        }
    }
}

fn code(c: i32) -> ExitCode {
    // As Python's sys.exit: -1 becomes 255.
    ExitCode::from((c & 0xff) as u8)
}
