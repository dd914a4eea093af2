//! An insertion-ordered `{int: int}` counter, Locust's histogram and per-second dicts.
//!
//! Insertion order matters because `--json` prints these dicts in Python's dict order; the
//! integer keys matter because the msgpack wire form must carry real integer map keys.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A multiplicative hasher for small integer keys: the keys are not attacker-chosen and
/// `log()` is on the hot path.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, i: i64) {
        self.0 = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Insertion-ordered counts keyed by integers.
#[derive(Clone, Default)]
pub struct Counts {
    items: Vec<(i64, u64)>,
    index: HashMap<i64, usize, BuildHasherDefault<IntHasher>>,
}

impl fmt::Debug for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.items.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl PartialEq for Counts {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl Counts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, key: i64, n: u64) {
        // Per-second maps almost always hit the newest key.
        if let Some(last) = self.items.last_mut() {
            if last.0 == key {
                last.1 += n;
                return;
            }
        }
        match self.index.get(&key) {
            Some(&i) => self.items[i].1 += n,
            None => {
                self.index.insert(key, self.items.len());
                self.items.push((key, n));
            }
        }
    }

    pub fn get(&self, key: i64) -> u64 {
        if let Some(last) = self.items.last() {
            if last.0 == key {
                return last.1;
            }
        }
        self.index.get(&key).map_or(0, |&i| self.items[i].1)
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.items.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.items.clear();
        self.index.clear();
    }

    /// Entries sorted by descending key, the order percentiles walk.
    pub fn sorted_desc(&self) -> Vec<(i64, u64)> {
        let mut v = self.items.clone();
        v.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        v
    }

    /// `self - older` key-wise, keeping only positive differences (a zero-count key would
    /// otherwise be picked by the 100th percentile).
    pub fn diff(&self, older: &Counts) -> Counts {
        let mut out = Counts::new();
        for (k, v) in self.iter() {
            let d = v.saturating_sub(older.get(k));
            if d > 0 {
                out.add(k, d);
            }
        }
        out
    }
}

impl FromIterator<(i64, u64)> for Counts {
    fn from_iter<T: IntoIterator<Item = (i64, u64)>>(iter: T) -> Self {
        let mut c = Counts::new();
        for (k, v) in iter {
            c.add(k, v);
        }
        c
    }
}

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.items.len()))?;
        for (k, v) in &self.items {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Counts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of integer keys to counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counts, A::Error> {
                let mut c = Counts::new();
                while let Some((k, v)) = map.next_entry::<i64, u64>()? {
                    c.add(k, v);
                }
                Ok(c)
            }
        }
        d.deserialize_map(V)
    }
}

/// Locust's `calculate_response_time_percentile` over a histogram already sorted by
/// descending key: the first key at which `n - accumulated <= int(n * p)`, else 0.
pub fn percentile_sorted(desc: &[(i64, u64)], n: u64, p: f64) -> i64 {
    let k = (n as f64 * p) as u64;
    let mut acc: u64 = 0;
    for &(key, count) in desc {
        acc += count;
        if n.saturating_sub(acc) <= k {
            return key;
        }
    }
    0
}

/// [`percentile_sorted`] on an unsorted histogram.
pub fn percentile(hist: &Counts, n: u64, p: f64) -> i64 {
    percentile_sorted(&hist.sorted_desc(), n, p)
}

/// Locust's `bucket_response_time`: `round(rt)` below 100 ms, then to tens, hundreds and
/// thousands, with Python's ties-to-even on the exact binary value. The remainder comes from
/// `%` (IEEE fmod, always exact), so no division can create or hide a tie.
pub fn bucket(rt: f64) -> i64 {
    if !rt.is_finite() {
        return 0;
    }
    let m = if rt < 100.0 {
        1.0
    } else if rt < 1000.0 {
        10.0
    } else if rt < 10000.0 {
        100.0
    } else {
        1000.0
    };
    let (q, r) = if m == 1.0 {
        let f = rt.floor();
        (f, rt - f)
    } else {
        // rt >= 100 here, so fmod is non-negative and rt - r is an exact multiple of m.
        let r = rt % m;
        ((rt - r) / m, r)
    };
    let half = m / 2.0;
    let q = if r > half || (r == half && q % 2.0 != 0.0) {
        q + 1.0
    } else {
        q
    };
    (q * m) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testdata::vectors;

    #[test]
    fn bucket_vectors() {
        let v = vectors();
        let map = v["bucket_response_time"].as_object().expect("map");
        assert!(map.len() > 20);
        for (k, want) in map {
            let x: f64 = k.parse().expect("float");
            assert_eq!(bucket(x), want.as_i64().expect("int"), "bucket({k})");
        }
        assert_eq!(bucket(-0.5), 0);
        assert_eq!(bucket(-1.5), -2);
    }

    #[test]
    fn percentile_vectors() {
        let v = vectors();
        let p = &v["percentiles"];
        let hist: Counts = p["response_times"]
            .as_object()
            .expect("map")
            .iter()
            .map(|(k, v)| (k.parse().expect("int"), v.as_u64().expect("count")))
            .collect();
        let n = p["num_requests"].as_u64().expect("n");
        let results = p["results"].as_object().expect("results");
        assert_eq!(results.len(), 11);
        for (pk, want) in results {
            let pf: f64 = pk.parse().expect("p");
            assert_eq!(
                percentile(&hist, n, pf),
                want.as_i64().expect("int"),
                "p{pk}"
            );
        }
        assert_eq!(percentile(&Counts::new(), 0, 0.5), 0);
    }

    #[test]
    fn counts_keep_insertion_order_and_roundtrip() {
        let mut c = Counts::new();
        for k in [10, 13, 3, 12, 3, 10] {
            c.add(k, 1);
        }
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            vec![(10, 2), (13, 1), (3, 2), (12, 1)]
        );
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(j, r#"{"10":2,"13":1,"3":2,"12":1}"#);
        let back: Counts = serde_json::from_str(&j).unwrap();
        assert_eq!(back, c);
        let v = serde_json::to_value(&c).unwrap();
        let back: Counts = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
        let bytes = rmp_serde::to_vec(&c).unwrap();
        // fixmap of 4, first key the positive fixint 10.
        assert_eq!(bytes[0], 0x84);
        assert_eq!(bytes[1], 10);
        let back: Counts = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, c);
        let d = c.diff(&[(10, 2), (3, 1)].into_iter().collect());
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![(13, 1), (3, 1), (12, 1)]);
    }
}
