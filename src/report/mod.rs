//! Locust's text outputs built from the statistics, as strings or JSON values (no IO):
//! the CSV files ([`csv`]), the console tables ([`console`]), `--json` ([`json`]), the
//! statistics bodies of the web API ([`web`]), the page's and report's data ([`page`]) and the
//! Prometheus exposition of `/metrics` ([`prometheus`]).

pub mod console;
pub mod csv;
pub mod json;
pub mod open;
pub mod page;
pub mod prometheus;
pub mod summary;
pub mod web;
