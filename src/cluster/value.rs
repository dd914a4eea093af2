//! A msgpack value as Python's `msgpack` (1.x, `use_bin_type=True`, `raw=False`) writes and reads
//! it: the one place that turns bytes into a tree and back, so the message codec above it never
//! touches raw bytes.
//!
//! Encoding picks the same markers Python does (smallest integer form, `str` for text, `bin`
//! for bytes, always float64), so skein's frames are byte-identical to Locust's. Decoding never
//! panics and never trusts a declared length: it checks every length against the bytes left,
//! bounds nesting, rejects invalid UTF-8 in strings (Python's `raw=False` does too) and
//! trailing bytes (Python's `ExtraData`).

use thiserror::Error;

/// Nesting deeper than this is refused: no core message goes beyond 5 levels, and a frame of
/// nested one-byte arrays must not exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A decoded msgpack value. Maps keep their order and their key types (Locust's statistics use
/// integer keys).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    /// Every integer that fits in an `i64`.
    Int(i64),
    /// Integers above `i64::MAX` (msgpack's uint64 range).
    UInt(u64),
    /// float32 and float64 alike (Python reads both as `float`).
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Ext(i8, Vec<u8>),
}

/// Why bytes are not one msgpack value.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ValueError {
    #[error("incomplete input (truncated msgpack)")]
    Truncated,
    #[error("{0} extra bytes after the msgpack value")]
    TrailingBytes(usize),
    #[error("a msgpack string is not valid UTF-8")]
    InvalidUtf8,
    #[error("reserved msgpack marker 0xc1")]
    ReservedMarker,
    #[error("msgpack nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

impl Value {
    /// Python's type name of the value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::UInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bin(_) => "bytes",
            Value::Array(_) => "list",
            Value::Map(_) => "dict",
            Value::Ext(..) => "ExtType",
        }
    }

    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    /// A map with string keys, in this order.
    pub fn map<I: IntoIterator<Item = (&'static str, Value)>>(entries: I) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::str(k), v))
                .collect(),
        )
    }

    /// Exactly one value, the whole input.
    pub fn decode(bytes: &[u8]) -> Result<Value, ValueError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let v = r.value(0)?;
        match bytes.len() - r.pos {
            0 => Ok(v),
            extra => Err(ValueError::TrailingBytes(extra)),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Nil => out.push(0xc0),
            Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Int(i) if *i >= 0 => write_uint(out, *i as u64),
            Value::Int(i) => write_neg(out, *i),
            Value::UInt(u) => write_uint(out, *u),
            Value::Float(f) => {
                out.push(0xcb);
                out.extend_from_slice(&f.to_be_bytes());
            }
            Value::Str(s) => {
                write_len(out, s.len(), Some(0xa0), [0xd9, 0xda, 0xdb]);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bin(b) => {
                write_len(out, b.len(), None, [0xc4, 0xc5, 0xc6]);
                out.extend_from_slice(b);
            }
            Value::Array(items) => {
                write_container(out, items.len(), 0x90, [0xdc, 0xdd]);
                for v in items {
                    v.write(out);
                }
            }
            Value::Map(entries) => {
                write_container(out, entries.len(), 0x80, [0xde, 0xdf]);
                for (k, v) in entries {
                    k.write(out);
                    v.write(out);
                }
            }
            Value::Ext(t, data) => {
                match data.len() {
                    1 => out.push(0xd4),
                    2 => out.push(0xd5),
                    4 => out.push(0xd6),
                    8 => out.push(0xd7),
                    16 => out.push(0xd8),
                    n => write_len(out, n, None, [0xc7, 0xc8, 0xc9]),
                }
                out.push(*t as u8);
                out.extend_from_slice(data);
            }
        }
    }
}

fn write_uint(out: &mut Vec<u8>, u: u64) {
    if u < 128 {
        out.push(u as u8);
    } else if u <= u8::MAX as u64 {
        out.extend_from_slice(&[0xcc, u as u8]);
    } else if u <= u16::MAX as u64 {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u <= u32::MAX as u64 {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn write_neg(out: &mut Vec<u8>, i: i64) {
    if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= i8::MIN as i64 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// A str/bin/ext length: a fix form below 32 when the type has one, then 8, 16 and 32 bits.
fn write_len(out: &mut Vec<u8>, n: usize, fix: Option<u8>, markers: [u8; 3]) {
    match fix {
        Some(f) if n < 32 => out.push(f | n as u8),
        _ if n <= u8::MAX as usize => out.extend_from_slice(&[markers[0], n as u8]),
        _ if n <= u16::MAX as usize => {
            out.push(markers[1]);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(markers[2]);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn write_container(out: &mut Vec<u8>, n: usize, fix: u8, markers: [u8; 2]) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(markers[0]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(markers[1]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ValueError> {
        let end = self.pos.checked_add(n).ok_or(ValueError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(ValueError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, ValueError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn value(&mut self, depth: usize) -> Result<Value, ValueError> {
        if depth > MAX_DEPTH {
            return Err(ValueError::TooDeep);
        }
        let m = self.take(1)?[0];
        Ok(match m {
            0x00..=0x7f => Value::Int(i64::from(m)),
            0x80..=0x8f => self.map(usize::from(m & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(m & 0x0f), depth)?,
            0xa0..=0xbf => self.string(usize::from(m & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => return Err(ValueError::ReservedMarker),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.be(1 << (m - 0xc4))? as usize;
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.be(1 << (m - 0xc7))? as usize;
                let t = self.take(1)?[0] as i8;
                Value::Ext(t, self.take(n)?.to_vec())
            }
            0xca => Value::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => {
                let u = self.be(1 << (m - 0xcc))?;
                i64::try_from(u).map_or(Value::UInt(u), Value::Int)
            }
            0xd0 => Value::Int(i64::from(self.be(1)? as u8 as i8)),
            0xd1 => Value::Int(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Value::Int(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Value::Int(self.be(8)? as i64),
            0xd4..=0xd8 => {
                let t = self.take(1)?[0] as i8;
                Value::Ext(t, self.take(1 << (m - 0xd4))?.to_vec())
            }
            0xd9..=0xdb => {
                let n = self.be(1 << (m - 0xd9))? as usize;
                self.string(n)?
            }
            0xdc | 0xdd => {
                let n = self.be(2 << (m - 0xdc))? as usize;
                self.array(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.be(2 << (m - 0xde))? as usize;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::Int(i64::from(m as i8)),
        })
    }

    fn string(&mut self, n: usize) -> Result<Value, ValueError> {
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(|s| Value::Str(s.to_string()))
            .map_err(|_| ValueError::InvalidUtf8)
    }

    /// Capacity is capped by the bytes left (every element takes at least one), so a forged
    /// length cannot allocate more than the frame's size.
    fn array(&mut self, n: usize, depth: usize) -> Result<Value, ValueError> {
        let mut items = Vec::with_capacity(n.min(self.buf.len() - self.pos));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, ValueError> {
        let mut entries = Vec::with_capacity(n.min((self.buf.len() - self.pos) / 2));
        for _ in 0..n {
            let k = self.value(depth + 1)?;
            let v = self.value(depth + 1)?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_marker_family() {
        let v = Value::Array(vec![
            Value::Nil,
            Value::Bool(true),
            Value::Int(-1),
            Value::Int(-33),
            Value::Int(-40_000),
            Value::Int(i64::MIN),
            Value::Int(127),
            Value::Int(200),
            Value::Int(70_000),
            Value::Int(5_000_000_000),
            Value::UInt(u64::MAX),
            Value::Float(1.5),
            Value::str(&"x".repeat(40)),
            Value::str(&"y".repeat(300)),
            Value::Bin(vec![1, 2, 3]),
            Value::Ext(5, vec![0; 3]),
            Value::Map(vec![(Value::Int(1795807813), Value::Int(2))]),
            Value::Array((0..20).map(Value::Int).collect()),
        ]);
        let bytes = v.encode();
        assert_eq!(Value::decode(&bytes), Ok(v));
    }

    #[test]
    fn encodes_as_python_msgpack_does() {
        // Bytes from Python: msgpack.packb([200, -33, 1.5, "é", b"\x01", {1: None}]).
        let v = Value::Array(vec![
            Value::Int(200),
            Value::Int(-33),
            Value::Float(1.5),
            Value::str("é"),
            Value::Bin(vec![1]),
            Value::Map(vec![(Value::Int(1), Value::Nil)]),
        ]);
        assert_eq!(
            hex::encode(v.encode()),
            "96ccc8d0dfcb3ff8000000000000a2c3a9c401018101c0"
        );
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(Value::decode(&[]), Err(ValueError::Truncated));
        assert_eq!(Value::decode(&[0x92, 0x01]), Err(ValueError::Truncated));
        assert_eq!(
            Value::decode(&[0x01, 0x02]),
            Err(ValueError::TrailingBytes(1))
        );
        assert_eq!(Value::decode(&[0xa1, 0xff]), Err(ValueError::InvalidUtf8));
        assert_eq!(Value::decode(&[0xc1]), Err(ValueError::ReservedMarker));
        // A declared 4-billion-element array in 5 bytes: refused, not allocated.
        assert_eq!(
            Value::decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(ValueError::Truncated)
        );
        assert_eq!(Value::decode(&[0x91; 1000]), Err(ValueError::TooDeep));
    }
}
