//! The skein-only `skein_open` key of a worker's `stats` report: its open-model delta
//! ([`OpenReport`]) as msgpack, and back. Locust's master reads only the keys it knows, so the
//! extra key costs it nothing; a skein master merges it. Decoding is bounded (rows, buckets) and
//! checks that each row's buckets add up to its request count, so a corrupt or hostile report
//! is an error naming the problem, never a panic or an absurd table.

use crate::stats::{ArrivalCounts, Counts, OpenEntry, OpenReport};

use super::super::value::Value;
use super::decode::{as_u64, wrong, Fields};
use super::{uint, PayloadError};

/// Rows one report may carry: far above `--max-request-names`' default (a worker caps its own
/// rows there), far below what would hurt a master.
pub const MAX_OPEN_ROWS: usize = 10_000;
/// Buckets per histogram: Locust's buckets reach a day's worth of milliseconds in ~90,000.
pub const MAX_OPEN_BUCKETS: usize = 100_000;

pub(super) fn encode(r: &OpenReport) -> Value {
    let c = r.counts;
    Value::map([
        ("scheduled", uint(c.scheduled)),
        ("started", uint(c.started)),
        ("late", uint(c.late)),
        ("dropped", uint(c.dropped)),
        (
            "entries",
            Value::Array(r.entries.iter().map(entry).collect()),
        ),
    ])
}

fn entry(e: &OpenEntry) -> Value {
    Value::map([
        ("name", Value::str(&e.name)),
        ("method", Value::str(&e.method)),
        ("num_requests", uint(e.num_requests)),
        ("total_corrected", Value::Float(e.total_corrected)),
        ("total_uncorrected", Value::Float(e.total_uncorrected)),
        ("corrected", histogram(&e.corrected)),
        ("uncorrected", histogram(&e.uncorrected)),
    ])
}

fn histogram(c: &Counts) -> Value {
    Value::Map(c.iter().map(|(k, n)| (Value::Int(k), uint(n))).collect())
}

pub(super) fn decode(v: &Value) -> Result<OpenReport, PayloadError> {
    let f = Fields::of(v).map_err(|_| wrong("skein_open", "a dict", v))?;
    let counts = ArrivalCounts {
        scheduled: f.u64("scheduled")?,
        started: f.u64("started")?,
        late: f.u64("late")?,
        dropped: f.u64("dropped")?,
    };
    let rows = match f.req("entries")? {
        Value::Array(rows) => rows,
        other => return Err(wrong("skein_open.entries", "a list", other)),
    };
    if rows.len() > MAX_OPEN_ROWS {
        return Err(PayloadError::TooMany {
            key: "skein_open.entries",
            found: rows.len(),
            limit: MAX_OPEN_ROWS,
        });
    }
    let entries = rows.iter().map(row).collect::<Result<_, _>>()?;
    Ok(OpenReport { counts, entries })
}

fn row(v: &Value) -> Result<OpenEntry, PayloadError> {
    let f = Fields::of(v).map_err(|_| wrong("skein_open.entries[]", "a dict", v))?;
    let mut e = OpenEntry::new(&f.string("name")?, &f.string("method")?);
    e.num_requests = f.u64("num_requests")?;
    e.total_corrected = finite(&f, "total_corrected")?;
    e.total_uncorrected = finite(&f, "total_uncorrected")?;
    e.corrected = buckets(f.req("corrected")?, "skein_open.entries[].corrected")?;
    e.uncorrected = buckets(f.req("uncorrected")?, "skein_open.entries[].uncorrected")?;
    for (key, hist) in [("corrected", &e.corrected), ("uncorrected", &e.uncorrected)] {
        let sum = hist
            .iter()
            .try_fold(0u64, |s, (_, n)| s.checked_add(n))
            .unwrap_or(u64::MAX);
        if sum != e.num_requests {
            return Err(PayloadError::Inconsistent(format!(
                "skein_open row {:?}: {key} buckets add up to {sum}, not its {} requests",
                e.name, e.num_requests
            )));
        }
    }
    Ok(e)
}

fn finite(f: &Fields<'_>, key: &'static str) -> Result<f64, PayloadError> {
    let x = f.f64(key)?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(PayloadError::Inconsistent(format!(
            "skein_open: {key} is {x}"
        )))
    }
}

fn buckets(v: &Value, key: &'static str) -> Result<Counts, PayloadError> {
    let Value::Map(items) = v else {
        return Err(wrong(key, "a dict of int to int", v));
    };
    if items.len() > MAX_OPEN_BUCKETS {
        return Err(PayloadError::TooMany {
            key,
            found: items.len(),
            limit: MAX_OPEN_BUCKETS,
        });
    }
    let mut c = Counts::new();
    for (k, n) in items {
        let k = match k {
            Value::Int(i) => *i,
            Value::UInt(u) => i64::try_from(*u).map_err(|_| wrong(key, "int keys", k))?,
            other => return Err(wrong(key, "a dict of int to int", other)),
        };
        let n = as_u64(n).ok_or_else(|| wrong(key, "a dict of int to int", n))?;
        c.add(k, n);
    }
    Ok(c)
}
