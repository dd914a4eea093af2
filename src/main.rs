//! The `skein` command: skein's own load test, the image-classifier catalogue.

fn main() -> std::process::ExitCode {
    skein::main(skein_scenarios::catalogue())
}
