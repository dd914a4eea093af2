//! (placeholder until the stats module lands)
use skein_api::RequestRecord;
#[derive(Clone, Default)]
pub struct RequestStats { pub n: u64 }
impl RequestStats { pub fn new(_now: f64) -> Self { Self::default() } pub fn log(&mut self, _r: &RequestRecord) { self.n += 1; } pub fn reset_all(&mut self, _now: f64) { self.n = 0; } }
#[derive(Clone, Default)]
pub struct Exceptions;
impl Exceptions { pub fn add(&mut self, _m: &str, _t: &str, _n: &str) {} pub fn clear(&mut self) {} }
