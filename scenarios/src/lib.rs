//! The image-classifier workload: Goose scenarios for skein's engine.

use skein_api::UserClass;

/// Every user class this workload offers, in the order `--list` shows them.
pub fn catalogue() -> Vec<UserClass> {
    Vec::new()
}
