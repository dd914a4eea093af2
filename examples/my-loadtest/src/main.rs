//! The whole binary: skein's command line over this crate's user classes.

fn main() -> std::process::ExitCode {
    skein::main(my_loadtest::user_classes())
}
