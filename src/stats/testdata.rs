//! Test-only access to the Locust samples copied into the repository
//! (`tests/fixtures/locust/`), and parsers for the formats they are written in.

/// `tests/fixtures/locust/<name>`; a missing file fails the test.
pub fn sample(name: &str) -> String {
    crate::testing::read_fixture(&format!("locust/{name}"))
}

pub fn vectors() -> serde_json::Value {
    serde_json::from_str(&sample("stats-vectors.json")).expect("stats-vectors.json parses")
}

/// Parses a Python literal (dicts, lists, tuples, str, int, float, None, True, False) as
/// printed in the transcripts, or plain JSON, into a JSON value (int keys become strings),
/// with exactly parsed floats.
pub fn py_literal(text: &str) -> serde_json::Value {
    let mut p = PyParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing text in literal");
    v
}

struct PyParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl PyParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> u8 {
        self.ws();
        self.s[self.i]
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn value(&mut self) -> serde_json::Value {
        use serde_json::Value;
        match self.peek() {
            b'{' => {
                self.i += 1;
                let mut m = serde_json::Map::new();
                while !self.eat(b'}') {
                    let k = match self.value() {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    assert!(self.eat(b':'));
                    let v = self.value();
                    m.insert(k, v);
                    self.eat(b',');
                }
                Value::Object(m)
            }
            b'[' | b'(' => {
                let close = if self.s[self.i] == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut v = Vec::new();
                while !self.eat(close) {
                    v.push(self.value());
                    self.eat(b',');
                }
                Value::Array(v)
            }
            q @ (b'\'' | b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                while self.s[self.i] != q {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                        out.push(match self.s[self.i] {
                            b'n' => b'\n',
                            b't' => b'\t',
                            b'r' => b'\r',
                            c => c,
                        });
                    } else {
                        out.push(self.s[self.i]);
                    }
                    self.i += 1;
                }
                self.i += 1;
                Value::String(String::from_utf8(out).expect("utf8"))
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && !b",:}])".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let tok = std::str::from_utf8(&self.s[start..self.i])
                    .expect("utf8")
                    .trim();
                match tok {
                    "None" | "null" => Value::Null,
                    "True" | "true" => Value::Bool(true),
                    "False" | "false" => Value::Bool(false),
                    // Rust's float parsing is exact; serde_json's default one is not.
                    t if t.contains(['.', 'e', 'E']) => {
                        let f: f64 = t.parse().unwrap_or_else(|_| panic!("token {t:?}"));
                        Value::Number(serde_json::Number::from_f64(f).expect("finite"))
                    }
                    t => serde_json::from_str(t).unwrap_or_else(|_| panic!("token {t:?}")),
                }
            }
        }
    }
}

/// The `data` of every `SEND 'stats'` line of a transcript.
pub fn transcript_stats(name: &str) -> Vec<serde_json::Value> {
    sample(name)
        .lines()
        .filter(|l| l.contains("SEND 'stats'"))
        .map(|l| {
            let i = l.find("data=").expect("data=") + 5;
            py_literal(&l[i..])
        })
        .collect()
}

/// The master of the fake-worker run (samples/fakeworker_run_*), rebuilt by merging the
/// worker's four recorded reports from transcript A.
pub fn fakeworker_master() -> crate::stats::RequestStats {
    use serde::Deserialize;
    let reports = transcript_stats("transcript_A.txt");
    assert_eq!(reports.len(), 4);
    // The master's own start is later than the worker's, so min() keeps the worker's.
    let mut m = crate::stats::RequestStats::new(1_795_808_262.0);
    for r in &reports {
        let r = crate::stats::StatsReport::deserialize(r).expect("report");
        m.merge_report(&r, 1_795_808_262.0);
    }
    m
}
