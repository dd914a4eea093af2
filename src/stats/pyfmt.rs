//! Python's text forms of numbers and strings, as Locust's outputs show them: `repr(float)`,
//! the `{:2f}` format spec, `round()` and Locust's `proper_round`, `repr(str)`, and [`PyNum`] for
//! values that are an `int` in one state and a `float` in another.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Python's `repr(float)`: the shortest round-tripping digits, fixed notation for decimal
/// exponents in `[-4, 16)`, otherwise `d.ddde±XX` with at least two exponent digits.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // `{:e}` yields the shortest round-trip digits; only the layout differs from Python.
    let sci = format!("{:e}", x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..(-point) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    }
    out
}

/// The Python format spec `{:2f}` Locust uses for history rates: width 2, default precision 6.
pub fn fmt_2f(x: f64) -> String {
    format!("{:2.6}", x)
}

/// Python's `round(x, digits)` for a float: correctly rounded, ties to even on the exact binary
/// value (Rust's fixed-precision formatting rounds the same way), and still a float.
pub fn py_round(x: f64, digits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{:.*}", digits, x).parse().unwrap_or(x)
}

/// Locust's `proper_round(x, digits)`: adds `10**(-len(str(x))-1)` before Python's `round`,
/// which makes ties round half up; the result is a float.
pub fn proper_round(x: f64, digits: usize) -> f64 {
    let n = float_repr(x).len() + 1;
    // Parsing gives the correctly rounded power of ten, as CPython's `10**-n` does.
    let eps: f64 = format!("1e-{n}").parse().unwrap_or(0.0);
    py_round(x + eps, digits)
}

pub use skein_record::str_repr;

/// A Python number that may be an `int` or a `float`; `Display` is Python's `str()`, and it
/// serializes as a JSON/msgpack integer or float accordingly.
#[derive(Debug, Clone, Copy)]
pub enum PyNum {
    Int(i64),
    Float(f64),
}

impl PyNum {
    pub fn as_f64(self) -> f64 {
        match self {
            PyNum::Int(i) => i as f64,
            PyNum::Float(f) => f,
        }
    }

    /// Python truthiness (`x or 0`).
    pub fn is_truthy(self) -> bool {
        match self {
            PyNum::Int(i) => i != 0,
            PyNum::Float(f) => f != 0.0,
        }
    }

    /// Python's `int(x)`: truncation toward zero.
    pub fn trunc(self) -> i64 {
        match self {
            PyNum::Int(i) => i,
            PyNum::Float(f) => f as i64,
        }
    }

    fn cmp_num(self, other: PyNum) -> Option<Ordering> {
        match (self, other) {
            (PyNum::Int(a), PyNum::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    /// Python's `max(self, other)`: keeps `self` unless `other` is strictly greater.
    pub fn py_max(self, other: PyNum) -> PyNum {
        if other.cmp_num(self) == Some(Ordering::Greater) {
            other
        } else {
            self
        }
    }

    /// Python's `min(self, other)`: keeps `self` unless `other` is strictly smaller.
    pub fn py_min(self, other: PyNum) -> PyNum {
        if other.cmp_num(self) == Some(Ordering::Less) {
            other
        } else {
            self
        }
    }

    pub fn gt(self, other: PyNum) -> bool {
        self.cmp_num(other) == Some(Ordering::Greater)
    }

    pub fn lt(self, other: PyNum) -> bool {
        self.cmp_num(other) == Some(Ordering::Less)
    }
}

impl PartialEq for PyNum {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_num(*other) == Some(Ordering::Equal)
    }
}

/// Python `+`: int + int stays int, anything with a float becomes a float.
impl std::ops::Add for PyNum {
    type Output = PyNum;
    fn add(self, other: PyNum) -> PyNum {
        match (self, other) {
            (PyNum::Int(a), PyNum::Int(b)) => PyNum::Int(a.saturating_add(b)),
            (a, b) => PyNum::Float(a.as_f64() + b.as_f64()),
        }
    }
}

impl fmt::Display for PyNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyNum::Int(i) => write!(f, "{i}"),
            PyNum::Float(x) => f.write_str(&float_repr(*x)),
        }
    }
}

impl From<i64> for PyNum {
    fn from(v: i64) -> Self {
        PyNum::Int(v)
    }
}

impl From<f64> for PyNum {
    fn from(v: f64) -> Self {
        PyNum::Float(v)
    }
}

impl Serialize for PyNum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PyNum::Int(i) => s.serialize_i64(*i),
            PyNum::Float(f) => s.serialize_f64(*f),
        }
    }
}

impl<'de> Deserialize<'de> for PyNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PyNum;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an int or a float")
            }
            fn visit_i64<E>(self, v: i64) -> Result<PyNum, E> {
                Ok(PyNum::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PyNum, E> {
                i64::try_from(v)
                    .map(PyNum::Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<PyNum, E> {
                Ok(PyNum::Float(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testdata::vectors;

    #[test]
    fn float_repr_vectors() {
        let v = vectors();
        let list = v["python_float_repr_in_csv"].as_array().expect("list");
        assert!(!list.is_empty());
        for item in list {
            let s = item.as_str().expect("str");
            let x: f64 = s.parse().expect("float");
            assert_eq!(float_repr(x), s);
        }
        assert_eq!(float_repr(4.267665935252654), "4.267665935252654");
        assert_eq!(float_repr(-0.5), "-0.5");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(1.5e-7), "1.5e-07");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_repr(1e300), "1e+300");
    }

    #[test]
    fn fmt_2f_vectors() {
        let v = vectors();
        let out = v["history_rps_format"].as_array().expect("list");
        // The generator's inputs (samples/tools/stats_vectors.py).
        let inputs = [0.0, 0.0, 13.9, 10.666666666666666, 1234.5678];
        assert_eq!(out.len(), inputs.len());
        for (x, want) in inputs.iter().zip(out) {
            assert_eq!(fmt_2f(*x), want.as_str().expect("str"));
        }
    }

    #[test]
    fn proper_round_vectors() {
        let v = vectors();
        for (field, digits) in [("proper_round", 0usize), ("proper_round_2", 2)] {
            let map = v[field].as_object().expect("map");
            assert!(!map.is_empty());
            for (k, want) in map {
                let x: f64 = k.parse().expect("float key");
                assert_eq!(
                    proper_round(x, digits),
                    want.as_f64().expect("f64"),
                    "{field} {k}"
                );
            }
        }
        assert_eq!(py_round(2.5, 0), 2.0);
        assert_eq!(py_round(4.125, 2), 4.12);
    }

    #[test]
    fn str_repr_quotes_and_escapes() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(
            str_repr("CatchResponseError('x')"),
            "\"CatchResponseError('x')\""
        );
        assert_eq!(str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(str_repr("a\"b"), "'a\"b'");
        assert_eq!(
            str_repr("t\tn\nr\r\\\x01\x7f"),
            "'t\\tn\\nr\\r\\\\\\x01\\x7f'"
        );
        assert_eq!(str_repr("é\u{a0}"), "'é\\xa0'");
    }

    #[test]
    fn pynum_display_and_json() {
        assert_eq!(PyNum::Int(0).to_string(), "0");
        assert_eq!(PyNum::Float(0.0).to_string(), "0.0");
        assert_eq!(PyNum::Float(6.0).to_string(), "6.0");
        assert_eq!(serde_json::to_string(&PyNum::Int(3)).unwrap(), "3");
        assert_eq!(serde_json::to_string(&PyNum::Float(2.5)).unwrap(), "2.5");
        let n: PyNum = serde_json::from_str("7").unwrap();
        assert!(matches!(n, PyNum::Int(7)));
        let n: PyNum = serde_json::from_str("7.0").unwrap();
        assert!(matches!(n, PyNum::Float(_)));
        assert_eq!((PyNum::Int(1) + PyNum::Float(0.5)).to_string(), "1.5");
        assert!(matches!(
            PyNum::Int(0).py_max(PyNum::Float(0.0)),
            PyNum::Int(0)
        ));
    }
}
