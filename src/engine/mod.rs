//! The engine: simulated users as tokio tasks, each running a Goose scenario on its own HTTP
//! session; the runner that owns them and brings each class to its target count at the spawn
//! rate; and the hub that owns the statistics the users report to.

pub mod dispatch;
