//! Frames of Locust's protocol: msgpack `[type, data, node_id]`, encoded exactly as Locust's
//! `Message.serialize()` does (checked against its bytes) and decoded defensively. This module
//! owns the mapping between [`ToMaster`]/[`ToWorker`] and frames; it has no sockets and no state.
//!
//! Decoding never panics. Every frame a Python master would choke on (truncated or trailing
//! bytes, garbage, an unknown type, missing keys, wrong value types, an integer version other
//! than -1) is a [`DecodeError`] that says what was wrong and, when the envelope could be read,
//! who sent it, so the caller can log it, drop it and stop trusting the sender.

use thiserror::Error;

use crate::stats::StatsReport;

use super::message::*;
use super::value::{Value, ValueError};

mod decode;
mod open;

pub use open::{MAX_OPEN_BUCKETS, MAX_OPEN_ROWS};

/// One message with the node it comes from (worker → master) or goes to (master → worker).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<M> {
    pub message: M,
    pub node_id: String,
}

/// Why a frame was not understood.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DecodeError {
    #[error("malformed msgpack: {0}")]
    Msgpack(#[from] ValueError),
    #[error("a message is [type: str, data, node_id: str], got {0}")]
    NotAnEnvelope(String),
    #[error("unknown message type {message_type:?} from {node_id}")]
    UnknownType {
        message_type: String,
        node_id: String,
    },
    #[error("bad {message_type} message from {node_id}: {problem}")]
    Payload {
        message_type: &'static str,
        node_id: String,
        problem: PayloadError,
    },
}

impl DecodeError {
    /// The sender named in the frame, when the envelope was readable.
    pub fn node_id(&self) -> Option<&str> {
        match self {
            DecodeError::UnknownType { node_id, .. } | DecodeError::Payload { node_id, .. } => {
                Some(node_id)
            }
            _ => None,
        }
    }
}

/// What is wrong with a known message's data.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PayloadError {
    #[error("data must be a dict, got {0}")]
    NotAMap(&'static str),
    #[error("missing key {0:?}")]
    MissingKey(&'static str),
    #[error("{key} must be {expected}, got {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("no version: an old (pre 2.0) worker")]
    OldWorker,
    #[error("the version must be a string or -1, got the int {0}")]
    IntVersion(i64),
    #[error("unknown worker state {0:?}")]
    UnknownState(String),
    #[error("statistics: {0}")]
    Stats(String),
    #[error("{key}: {found} items, at most {limit} allowed")]
    TooMany {
        key: &'static str,
        found: usize,
        limit: usize,
    },
    #[error("{0}")]
    Inconsistent(String),
}

/// Encoding only fails if the statistics cannot be serialized, which their types rule out;
/// it is an error rather than a panic all the same.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("cannot encode the statistics: {0}")]
pub struct EncodeError(String);

impl Frame<ToMaster> {
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(envelope(
            self.message.type_name(),
            to_master_data(&self.message)?,
            &self.node_id,
        ))
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_frame(bytes, decode::to_master)
    }
}

impl Frame<ToWorker> {
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(envelope(
            self.message.type_name(),
            to_worker_data(&self.message),
            &self.node_id,
        ))
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_frame(bytes, decode::to_worker)
    }
}

fn envelope(message_type: &str, data: Value, node_id: &str) -> Vec<u8> {
    Value::Array(vec![Value::str(message_type), data, Value::str(node_id)]).encode()
}

/// The envelope: exactly three elements, type and node id as strings.
/// Opens the envelope and decodes its payload with `payload`, naming the sender in every error.
fn decode_frame<M>(
    bytes: &[u8],
    payload: fn(&str, &Value) -> decode::Decoded<M>,
) -> Result<Frame<M>, DecodeError> {
    let (message_type, data, node_id) = open(bytes)?;
    match payload(&message_type, &data) {
        Ok(Some(message)) => Ok(Frame { message, node_id }),
        Ok(None) => Err(DecodeError::UnknownType {
            message_type,
            node_id,
        }),
        Err((message_type, problem)) => Err(DecodeError::Payload {
            message_type,
            node_id,
            problem,
        }),
    }
}

fn open(bytes: &[u8]) -> Result<(String, Value, String), DecodeError> {
    let Value::Array(items) = Value::decode(bytes)? else {
        return Err(DecodeError::NotAnEnvelope("not an array".into()));
    };
    let n = items.len();
    let Ok([t, data, id]) = <[Value; 3]>::try_from(items) else {
        return Err(DecodeError::NotAnEnvelope(format!("{n} elements")));
    };
    match (t, id) {
        (Value::Str(t), Value::Str(id)) => Ok((t, data, id)),
        (t, id) => Err(DecodeError::NotAnEnvelope(format!(
            "a {} type and a {} node id",
            t.kind(),
            id.kind()
        ))),
    }
}

fn class_counts(c: &ClassCounts) -> Value {
    Value::Map(c.0.iter().map(|(k, n)| (Value::str(k), uint(*n))).collect())
}

fn uint(n: u64) -> Value {
    i64::try_from(n).map_or(Value::UInt(n), Value::Int)
}

fn opt_str(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Nil, Value::str)
}

fn str_keyed(entries: &[(String, Value)]) -> Vec<(Value, Value)> {
    entries
        .iter()
        .map(|(k, v)| (Value::str(k), v.clone()))
        .collect()
}

/// A `stats/` wire-form value (msgpack via serde, with named fields and integer keys) as a tree.
fn serde_value<T: serde::Serialize>(v: &T) -> Result<Value, EncodeError> {
    let bytes = rmp_serde::to_vec_named(v).map_err(|e| EncodeError(e.to_string()))?;
    Value::decode(&bytes).map_err(|e| EncodeError(e.to_string()))
}

fn stats_data(p: &StatsPayload) -> Result<Value, EncodeError> {
    let StatsReport {
        stats,
        stats_total,
        errors,
    } = &p.report;
    let mut m = vec![
        ("stats", serde_value(stats)?),
        ("stats_total", serde_value(stats_total)?),
        ("errors", serde_value(errors)?),
        ("user_classes_count", class_counts(&p.user_classes_count)),
    ];
    if let Some(n) = p.user_count {
        m.push(("user_count", uint(n)));
    }
    if let Some(t) = p.sent_at {
        m.push(("skein_sent_at", Value::Float(t)));
    }
    if let Some(o) = &p.open {
        m.push(("skein_open", open::encode(o)));
    }
    Ok(Value::map(m))
}

fn to_master_data(m: &ToMaster) -> Result<Value, EncodeError> {
    Ok(match m {
        ToMaster::ClientReady(Version::Named(v)) => Value::str(v),
        ToMaster::ClientReady(Version::Unchecked) => Value::Int(-1),
        ToMaster::Heartbeat(h) => {
            let mut m = vec![
                ("state", Value::str(h.state.as_str())),
                ("current_cpu_usage", Value::Float(h.cpu_percent)),
            ];
            if let Some(mem) = h.memory_bytes {
                m.push(("current_memory_usage", uint(mem)));
            }
            Value::map(m)
        }
        ToMaster::Stats(p) => stats_data(p)?,
        ToMaster::Spawning | ToMaster::ClientStopped | ToMaster::Quit => Value::Nil,
        ToMaster::SpawningComplete(s) => Value::map([
            ("user_classes_count", class_counts(&s.user_classes_count)),
            ("user_count", uint(s.user_count)),
        ]),
        ToMaster::Exception(e) => Value::map([
            ("msg", Value::str(&e.msg)),
            ("traceback", Value::str(&e.traceback)),
        ]),
        ToMaster::Logs(l) => Value::map([
            ("worker_id", Value::str(&l.worker_id)),
            (
                "logs",
                Value::Array(l.logs.iter().map(|s| Value::str(s)).collect()),
            ),
        ]),
        ToMaster::Locustfile { version } => Value::map([("version", Value::str(version))]),
    })
}

fn to_worker_data(m: &ToWorker) -> Value {
    match m {
        ToWorker::Ack { index } => Value::map([("index", uint(*index))]),
        ToWorker::Heartbeat | ToWorker::Stop | ToWorker::Quit | ToWorker::Reconnect => Value::Nil,
        ToWorker::Spawn(s) => {
            let mut m = vec![
                ("timestamp", Value::Float(s.timestamp)),
                ("user_classes_count", class_counts(&s.user_classes_count)),
                ("host", opt_str(&s.host)),
                (
                    "stop_timeout",
                    s.stop_timeout.map_or(Value::Nil, Value::Float),
                ),
                ("parsed_options", Value::Map(str_keyed(&s.parsed_options))),
            ];
            if let Some(a) = s.arrival {
                m.push((
                    "skein_arrival",
                    Value::map([
                        ("rate", Value::Float(a.rate)),
                        ("max_in_flight", uint(a.max_in_flight)),
                    ]),
                ));
            }
            Value::map(m)
        }
        ToWorker::SpawningComplete { user_count } => {
            Value::map([("user_count", uint(*user_count))])
        }
        ToWorker::UpdateUserClass(u) => {
            let mut m = vec![(
                Value::str("user_class_name"),
                Value::str(&u.user_class_name),
            )];
            m.extend(str_keyed(&u.settings));
            Value::Map(m)
        }
        ToWorker::Locustfile(LocustfileReply::Error(e)) => Value::map([("error", Value::str(e))]),
        ToWorker::Locustfile(LocustfileReply::Files(files)) => {
            let files = files
                .iter()
                .map(|f| match f {
                    LocustfileSource::Url(u) => Value::str(u),
                    LocustfileSource::File { filename, contents } => Value::map([
                        ("filename", Value::str(filename)),
                        ("contents", Value::str(contents)),
                    ]),
                })
                .collect();
            Value::map([("locustfiles", Value::Array(files))])
        }
    }
}

#[cfg(test)]
mod tests;
