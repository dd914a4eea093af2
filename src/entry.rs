//! The entry point of a load-test binary: [`main`] gives a user's own crate the whole `skein`
//! command (command line, config files, web UI, outputs, exit codes, master/worker roles and
//! `skein bench`) over the user classes it passes in. The `skein` binary itself is one such
//! caller, with the image-classifier catalogue.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::process::ExitCode;

use skein_api::UserClass;
use tokio_util::sync::CancellationToken;

use crate::app;
use crate::config::{self, Command};

/// What [`main`] accepts as the user classes: a list, one class, or either behind a `Result`
/// (so a class builder's `GooseError` from `set_weight`/`set_wait_time` needs no `?` in `main`;
/// an `Err` ends the process with a message and exit code 1).
pub trait IntoClasses {
    fn into_classes(self) -> Result<Vec<UserClass>, String>;
}

impl IntoClasses for Vec<UserClass> {
    fn into_classes(self) -> Result<Vec<UserClass>, String> {
        Ok(self)
    }
}

impl IntoClasses for UserClass {
    fn into_classes(self) -> Result<Vec<UserClass>, String> {
        Ok(vec![self])
    }
}

impl<T: IntoClasses, E: Display> IntoClasses for Result<T, E> {
    fn into_classes(self) -> Result<Vec<UserClass>, String> {
        self.map_err(|e| format!("invalid user class: {e}"))?
            .into_classes()
    }
}

/// Runs the `skein` command over `classes` and returns the process's exit code (Locust's:
/// 0 success, 1 a startup error or failed requests, 2 a bad command line, 3 a failed
/// `--check`…; see the README's exit code table). Call it as the whole of a binary's `main`:
///
/// ```no_run
/// # fn my_user_class() -> Result<skein_api::UserClass, skein_api::goose::GooseError> { unimplemented!() }
/// fn main() -> std::process::ExitCode {
///     skein::main(my_user_class())
/// }
/// ```
///
/// `--list`, the positional class names, `-T`/`-E`, the web UI's class picker and a worker's
/// classes all come from `classes`; `--processes` and a master's local workers run copies of
/// this same binary. Class names must be unique.
pub fn main(classes: impl IntoClasses) -> ExitCode {
    let classes = match classes.into_classes().and_then(check_names) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skein: error: {e}");
            return code(app::EXIT_STARTUP);
        }
    };
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
        app::run_job(job, &classes, shutdown).await
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

/// A run needs at least one class, and a name picks exactly one (the command line, the web UI
/// and the master/worker protocol all address classes by name).
fn check_names(classes: Vec<UserClass>) -> Result<Vec<UserClass>, String> {
    if classes.is_empty() {
        return Err("no user classes given to skein::main".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &classes {
        if !seen.insert(c.name()) {
            return Err(format!("two user classes are named {}", c.name()));
        }
    }
    Ok(classes)
}

fn code(c: i32) -> ExitCode {
    // As Python's sys.exit: -1 becomes 255.
    ExitCode::from((c & 0xff) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skein_api::goose::prelude::*;

    fn class(name: &str) -> UserClass {
        UserClass::new(scenario!(name))
    }

    #[test]
    fn classes_come_as_a_list_one_class_or_a_result() {
        assert_eq!(class("A").into_classes().unwrap().len(), 1);
        assert_eq!(
            vec![class("A"), class("B")].into_classes().unwrap().len(),
            2
        );
        let ok: Result<UserClass, GooseError> = Ok(class("A"));
        assert_eq!(ok.into_classes().unwrap().len(), 1);
        let bad: Result<Vec<UserClass>, String> = Err("weight must be positive".into());
        assert_eq!(
            bad.into_classes().err().as_deref(),
            Some("invalid user class: weight must be positive")
        );
    }

    #[test]
    fn an_empty_list_and_duplicate_names_are_refused() {
        assert!(check_names(Vec::new())
            .err()
            .is_some_and(|e| e.contains("no user classes")));
        let e = check_names(vec![class("A"), class("B"), class("A")]).err();
        assert_eq!(e.as_deref(), Some("two user classes are named A"));
        assert_eq!(check_names(vec![class("A"), class("B")]).unwrap().len(), 2);
    }
}
