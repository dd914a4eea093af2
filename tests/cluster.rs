//! Master and workers as real processes: skein workers under a real Locust 2.47.0 master, real
//! Locust workers and skein workers under a skein master, and the faults a cluster must survive.
//! Everything runs on loopback with free ports; every wait is bounded.

#[path = "cluster/support.rs"]
mod support;

#[path = "cluster/interop.rs"]
mod interop;

#[path = "cluster/faults.rs"]
mod faults;

#[path = "cluster/roles.rs"]
mod roles;

#[path = "cluster/classes.rs"]
mod classes;
