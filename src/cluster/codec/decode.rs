//! Payloads from [`Value`]s, checked key by key: what Locust's handlers index (`data["state"]`)
//! is required here, what they read with `.get` or ignore is optional, and a value of the
//! wrong type is an error, never a default.

use crate::stats::StatsReport;

use super::super::message::*;
use super::super::value::Value;
use super::PayloadError;

pub(super) type Decoded<M> = Result<Option<M>, (&'static str, PayloadError)>;

/// A worker's message, `None` for a type Locust does not define in this direction.
pub(super) fn to_master(message_type: &str, data: &Value) -> Decoded<ToMaster> {
    let (name, parsed): (&'static str, Result<ToMaster, PayloadError>) = match message_type {
        "client_ready" => ("client_ready", version(data).map(ToMaster::ClientReady)),
        "heartbeat" => ("heartbeat", heartbeat(data).map(ToMaster::Heartbeat)),
        "stats" => ("stats", stats(data).map(|p| ToMaster::Stats(Box::new(p)))),
        // Locust ignores the data of these: any value is accepted, as it is there.
        "spawning" => return Ok(Some(ToMaster::Spawning)),
        "client_stopped" => return Ok(Some(ToMaster::ClientStopped)),
        "quit" => return Ok(Some(ToMaster::Quit)),
        "spawning_complete" => (
            "spawning_complete",
            Fields::of(data).and_then(|f| {
                Ok(ToMaster::SpawningComplete(SpawnedUsers {
                    user_classes_count: f.class_counts("user_classes_count")?,
                    user_count: f.u64("user_count")?,
                }))
            }),
        ),
        "exception" => (
            "exception",
            Fields::of(data).and_then(|f| {
                Ok(ToMaster::Exception(ExceptionReport {
                    msg: f.string("msg")?,
                    traceback: f.string("traceback")?,
                }))
            }),
        ),
        "logs" => (
            "logs",
            Fields::of(data).and_then(|f| {
                Ok(ToMaster::Logs(LogsReport {
                    worker_id: f.string("worker_id")?,
                    logs: f.strings("logs")?,
                }))
            }),
        ),
        "locustfile" => (
            "locustfile",
            Fields::of(data).and_then(|f| {
                Ok(ToMaster::Locustfile {
                    version: f.string("version")?,
                })
            }),
        ),
        _ => return Ok(None),
    };
    parsed.map(Some).map_err(|e| (name, e))
}

/// A master's message, `None` for a type Locust does not define in this direction.
pub(super) fn to_worker(message_type: &str, data: &Value) -> Decoded<ToWorker> {
    let (name, parsed): (&'static str, Result<ToWorker, PayloadError>) = match message_type {
        "heartbeat" => return Ok(Some(ToWorker::Heartbeat)),
        "stop" => return Ok(Some(ToWorker::Stop)),
        "quit" => return Ok(Some(ToWorker::Quit)),
        "reconnect" => return Ok(Some(ToWorker::Reconnect)),
        "ack" => (
            "ack",
            Fields::of(data).and_then(|f| {
                Ok(ToWorker::Ack {
                    index: f.u64("index")?,
                })
            }),
        ),
        "spawn" => ("spawn", spawn(data).map(ToWorker::Spawn)),
        "spawning_complete" => (
            "spawning_complete",
            Fields::of(data).and_then(|f| {
                Ok(ToWorker::SpawningComplete {
                    user_count: f.u64("user_count")?,
                })
            }),
        ),
        "update_user_class" => (
            "update_user_class",
            Fields::of(data).and_then(|f| {
                let user_class_name = f.string("user_class_name")?;
                let settings = f
                    .str_keyed()?
                    .into_iter()
                    .filter(|(k, _)| k != "user_class_name")
                    .collect();
                Ok(ToWorker::UpdateUserClass(UserClassUpdate {
                    user_class_name,
                    settings,
                }))
            }),
        ),
        "locustfile" => (
            "locustfile",
            locustfile_reply(data).map(ToWorker::Locustfile),
        ),
        _ => return Ok(None),
    };
    parsed.map(Some).map_err(|e| (name, e))
}

/// `"2.47.0"` or `-1`. Falsy versions (None, "", 0, False) are Locust's "old (pre 2.0)
/// worker"; any other int makes Locust's master crash on `data[0:4]`.
fn version(data: &Value) -> Result<Version, PayloadError> {
    match data {
        Value::Str(s) if !s.is_empty() => Ok(Version::Named(s.clone())),
        Value::Int(-1) => Ok(Version::Unchecked),
        Value::Nil | Value::Bool(false) | Value::Int(0) => Err(PayloadError::OldWorker),
        Value::Str(_) => Err(PayloadError::OldWorker),
        Value::Int(i) => Err(PayloadError::IntVersion(*i)),
        other => Err(wrong("data", "a version string or -1", other)),
    }
}

fn heartbeat(data: &Value) -> Result<Heartbeat, PayloadError> {
    let f = Fields::of(data)?;
    let state = f.string("state")?;
    Ok(Heartbeat {
        state: WorkerState::parse(&state).ok_or(PayloadError::UnknownState(state))?,
        cpu_percent: f.f64("current_cpu_usage")?,
        memory_bytes: f
            .opt("current_memory_usage")
            .map(|_| f.u64("current_memory_usage"))
            .transpose()?,
    })
}

/// The statistics go through `stats/`'s own wire types (serde over the same msgpack).
fn stats(data: &Value) -> Result<StatsPayload, PayloadError> {
    let f = Fields::of(data)?;
    for key in ["stats", "stats_total", "errors"] {
        f.req(key)?;
    }
    let user_classes_count = f.class_counts("user_classes_count")?;
    let user_count = f
        .opt("user_count")
        .map(|_| f.u64("user_count"))
        .transpose()?;
    let sent_at = f
        .opt("skein_sent_at")
        .map(|_| f.f64("skein_sent_at"))
        .transpose()?;
    let open = f.opt("skein_open").map(super::open::decode).transpose()?;
    let report: StatsReport =
        rmp_serde::from_slice(&data.encode()).map_err(|e| PayloadError::Stats(e.to_string()))?;
    Ok(StatsPayload {
        open,
        report,
        user_classes_count,
        user_count,
        sent_at,
    })
}

fn spawn(data: &Value) -> Result<Spawn, PayloadError> {
    let f = Fields::of(data)?;
    let host = match f.req("host")? {
        Value::Nil => None,
        Value::Str(s) => Some(s.clone()),
        other => return Err(wrong("host", "a str or None", other)),
    };
    let stop_timeout = match f.req("stop_timeout")? {
        Value::Nil => None,
        _ => Some(f.f64("stop_timeout")?),
    };
    let options = f.req("parsed_options")?;
    let arrival = match f.opt("skein_arrival") {
        None => None,
        Some(a) => {
            let a = Fields::of(a).map_err(|_| wrong("skein_arrival", "a dict", a))?;
            Some(ArrivalShare {
                rate: a.f64("rate")?,
                max_in_flight: a.u64("max_in_flight")?,
            })
        }
    };
    Ok(Spawn {
        arrival,
        timestamp: f.f64("timestamp")?,
        user_classes_count: f.class_counts("user_classes_count")?,
        host,
        stop_timeout,
        parsed_options: Fields::of(options)
            .map_err(|_| wrong("parsed_options", "a dict", options))?
            .str_keyed()?,
    })
}

fn locustfile_reply(data: &Value) -> Result<LocustfileReply, PayloadError> {
    let f = Fields::of(data)?;
    if f.opt("error").is_some() {
        return Ok(LocustfileReply::Error(f.string("error")?));
    }
    let Value::Array(items) = f.req("locustfiles")? else {
        return Err(wrong("locustfiles", "a list", f.req("locustfiles")?));
    };
    items
        .iter()
        .map(|item| match item {
            Value::Str(u) => Ok(LocustfileSource::Url(u.clone())),
            Value::Map(_) => {
                let g = Fields::of(item)?;
                Ok(LocustfileSource::File {
                    filename: g.string("filename")?,
                    contents: g.string("contents")?,
                })
            }
            other => Err(wrong("locustfiles[]", "a dict or a str", other)),
        })
        .collect::<Result<_, _>>()
        .map(LocustfileReply::Files)
}

pub(super) fn wrong(key: &str, expected: &'static str, found: &Value) -> PayloadError {
    PayloadError::WrongType {
        key: key.to_string(),
        expected,
        found: found.kind(),
    }
}

/// A dict's entries. A repeated key resolves to its last value, as Python's dict does.
pub(super) struct Fields<'a>(&'a [(Value, Value)]);

impl<'a> Fields<'a> {
    pub(super) fn of(data: &'a Value) -> Result<Self, PayloadError> {
        match data {
            Value::Map(m) => Ok(Fields(m)),
            other => Err(PayloadError::NotAMap(other.kind())),
        }
    }

    pub(super) fn opt(&self, key: &str) -> Option<&'a Value> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    pub(super) fn req(&self, key: &'static str) -> Result<&'a Value, PayloadError> {
        self.opt(key).ok_or(PayloadError::MissingKey(key))
    }

    pub(super) fn string(&self, key: &'static str) -> Result<String, PayloadError> {
        match self.req(key)? {
            Value::Str(s) => Ok(s.clone()),
            other => Err(wrong(key, "a str", other)),
        }
    }

    pub(super) fn u64(&self, key: &'static str) -> Result<u64, PayloadError> {
        let v = self.req(key)?;
        as_u64(v).ok_or_else(|| wrong(key, "a non-negative int", v))
    }

    /// An int or a float (Python compares and formats both as numbers).
    pub(super) fn f64(&self, key: &'static str) -> Result<f64, PayloadError> {
        match self.req(key)? {
            Value::Float(x) => Ok(*x),
            Value::Int(i) => Ok(*i as f64),
            Value::UInt(u) => Ok(*u as f64),
            other => Err(wrong(key, "a number", other)),
        }
    }

    fn strings(&self, key: &'static str) -> Result<Vec<String>, PayloadError> {
        match self.req(key)? {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    other => Err(wrong(key, "a list of str", other)),
                })
                .collect(),
            other => Err(wrong(key, "a list of str", other)),
        }
    }

    fn class_counts(&self, key: &'static str) -> Result<ClassCounts, PayloadError> {
        let v = self.req(key)?;
        let Value::Map(m) = v else {
            return Err(wrong(key, "a dict of class name to int", v));
        };
        m.iter()
            .map(|(k, n)| match (k, as_u64(n)) {
                (Value::Str(k), Some(n)) => Ok((k.clone(), n)),
                (Value::Str(_), None) => Err(wrong(key, "a dict of class name to int", n)),
                (k, _) => Err(wrong(key, "a dict of class name to int", k)),
            })
            .collect::<Result<_, _>>()
            .map(ClassCounts)
    }

    fn str_keyed(&self) -> Result<Vec<(String, Value)>, PayloadError> {
        self.0
            .iter()
            .map(|(k, v)| match k {
                Value::Str(k) => Ok((k.clone(), v.clone())),
                other => Err(wrong("a key", "a str", other)),
            })
            .collect()
    }
}

pub(super) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::UInt(u) => Some(*u),
        _ => None,
    }
}
