//! The JSON bodies of Locust's web API that come from statistics: `/stats/requests`,
//! `/exceptions` and `/tasks`. The web layer sorts the keys and indents; this builds values.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::stats::pyfmt::{float_repr, proper_round};
use crate::stats::{
    Exceptions, RequestStats, StatsEntry, PERCENTILES_TO_CHART, PERCENTILES_TO_STATISTICS,
};

/// At most this many entries (plus the total) and errors in `/stats/requests`.
const MAX_ROWS: usize = 500;

/// One worker as `/stats/requests` lists it on a master.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerRow {
    pub id: String,
    /// ready, spawning, running, missing…
    pub state: String,
    pub user_count: u64,
    /// Percent.
    pub cpu_usage: f64,
    /// Bytes.
    pub memory_usage: u64,
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn to_value<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `response_time_percentile_{p}` with `p` as Python prints the float.
fn percentile_key(p: f64) -> String {
    format!("response_time_percentile_{}", float_repr(p))
}

/// Locust's `StatsEntry.to_dict()`.
pub fn entry_dict(stats: &RequestStats, e: &StatsEntry) -> Value {
    let span = stats.span();
    let mut m = Map::new();
    m.insert("method".into(), Value::String(e.method.clone()));
    m.insert("name".into(), Value::String(e.name.clone()));
    m.insert("num_requests".into(), json!(e.num_requests));
    m.insert("num_failures".into(), json!(e.num_failures));
    m.insert("avg_response_time".into(), num(e.avg_response_time()));
    let min = match e.min_response_time {
        None => json!(0),
        Some(v) => num(proper_round(v.as_f64(), 0)),
    };
    m.insert("min_response_time".into(), min);
    m.insert(
        "max_response_time".into(),
        num(proper_round(e.max_response_time.as_f64(), 0)),
    );
    m.insert("current_rps".into(), to_value(e.current_rps(span)));
    m.insert(
        "current_fail_per_sec".into(),
        to_value(e.current_fail_per_sec(span)),
    );
    m.insert(
        "median_response_time".into(),
        to_value(e.median_response_time()),
    );
    m.insert(
        "avg_content_length".into(),
        to_value(e.avg_content_length()),
    );
    m.insert("total_rps".into(), num(e.total_rps(span)));
    m.insert("total_fail_per_sec".into(), num(e.total_fail_per_sec(span)));
    let ps = e.percentiles(&PERCENTILES_TO_STATISTICS);
    for (p, v) in PERCENTILES_TO_STATISTICS.iter().zip(ps) {
        m.insert(percentile_key(*p), json!(v));
    }
    Value::Object(m)
}

/// `GET /stats/requests`. `workers` is `Some` on a master (adds `worker_count` and `workers`).
pub fn stats_requests(
    stats: &RequestStats,
    now: f64,
    state: &str,
    user_count: u64,
    workers: Option<&[WorkerRow]>,
) -> Value {
    let total = stats.total();
    let span = stats.span();
    let mut rows: Vec<Value> = stats
        .entries()
        .into_iter()
        .take(MAX_ROWS)
        .map(|e| entry_dict(stats, e))
        .collect();
    rows.push(entry_dict(stats, total));
    let errors: Vec<Value> = stats
        .errors_in_order()
        .iter()
        .take(MAX_ROWS)
        .map(|e| e.serialize())
        .collect();
    let current = total.current_percentiles(&PERCENTILES_TO_CHART, now);
    let mut cur = Map::new();
    for (i, p) in PERCENTILES_TO_CHART.iter().enumerate() {
        let v = current.as_ref().map_or(Value::Null, |c| json!(c[i]));
        cur.insert(percentile_key(*p), v);
    }
    let mut m = Map::new();
    m.insert(
        "current_fail_per_sec".into(),
        to_value(total.current_fail_per_sec(span)),
    );
    m.insert(
        "current_response_time_percentiles".into(),
        Value::Object(cur),
    );
    m.insert("current_rps".into(), to_value(total.current_rps(span)));
    m.insert("errors".into(), Value::Array(errors));
    m.insert("fail_ratio".into(), num(total.fail_ratio()));
    m.insert("state".into(), Value::String(state.to_string()));
    m.insert("stats".into(), Value::Array(rows));
    m.insert(
        "total_fail_per_sec".into(),
        num(total.total_fail_per_sec(span)),
    );
    m.insert("total_rps".into(), num(total.total_rps(span)));
    m.insert("user_count".into(), json!(user_count));
    if let Some(w) = workers {
        m.insert("worker_count".into(), json!(w.len()));
        m.insert("workers".into(), to_value(w));
    }
    Value::Object(m)
}

/// `GET /exceptions`.
pub fn exceptions(ex: &Exceptions) -> Value {
    let rows: Vec<Value> = ex
        .rows()
        .iter()
        .map(|r| {
            json!({
                "count": r.count,
                "msg": r.msg,
                "traceback": r.traceback,
                "nodes": r.nodes_joined(),
            })
        })
        .collect();
    json!({ "exceptions": rows })
}

/// A user class's share of users and its tasks' shares within the class.
pub type ClassTasks = (String, f64, Vec<(String, f64)>);

/// `GET /tasks` from `(class, class_ratio, [(task, ratio within the class)])`: `per_class`
/// ratios as given, `total` with each task's ratio times its class's.
pub fn tasks(classes: &[ClassTasks]) -> Value {
    let mut per_class = Map::new();
    let mut total = Map::new();
    for (class, ratio, class_tasks) in classes {
        let mut own = Map::new();
        let mut all = Map::new();
        for (t, r) in class_tasks {
            own.insert(t.clone(), json!({ "ratio": num(*r) }));
            all.insert(t.clone(), json!({ "ratio": num(r * ratio) }));
        }
        per_class.insert(
            class.clone(),
            json!({ "ratio": num(*ratio), "tasks": Value::Object(own) }),
        );
        total.insert(
            class.clone(),
            json!({ "ratio": num(*ratio), "tasks": Value::Object(all) }),
        );
    }
    json!({ "per_class": Value::Object(per_class), "total": Value::Object(total) })
}

#[cfg(test)]
mod tests;
