//! Pure parsers of the `/proc` texts the sampler reads, and the arithmetic between two readings.
//! Nothing here opens a file: the sampler hands the texts in, the tests hand in vectors.

/// CPU time (user + system) in clock ticks, from the text of `/proc/<pid>/stat`.
///
/// The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so
/// the fields are counted from the **last** `)`: `utime` and `stime` are fields 14 and 15.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After ")" comes field 3 (state); utime is field 14, i.e. the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Resident set size in bytes from the text of `/proc/<pid>/statm` (its second field, in pages).
pub fn parse_statm_rss_bytes(statm: &str, page_size: u64) -> Option<u64> {
    let pages: u64 = statm.split_ascii_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(page_size)
}

/// A `kB` line of `/proc/<pid>/status` (`VmHWM:    2020 kB`) in bytes.
pub fn parse_status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
    let mut parts = line.split_ascii_whitespace();
    let kb: u64 = parts.next()?.parse().ok()?;
    if parts.next() != Some("kB") {
        return None;
    }
    kb.checked_mul(1024)
}

/// Bytes received and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetBytes {
    pub rx: u64,
    pub tx: u64,
}

impl NetBytes {
    /// What was moved since `earlier` (a counter that went back, as after an interface was
    /// removed, counts as nothing rather than wrapping).
    pub fn since(self, earlier: NetBytes) -> NetBytes {
        NetBytes {
            rx: self.rx.saturating_sub(earlier.rx),
            tx: self.tx.saturating_sub(earlier.tx),
        }
    }

    fn add(&mut self, rx: u64, tx: u64) {
        self.rx = self.rx.saturating_add(rx);
        self.tx = self.tx.saturating_add(tx);
    }
}

/// `/proc/self/net/dev` summed over the interfaces: loopback (`lo`) apart from the others, since
/// tests (and a target on the same machine) use loopback. The counters are the **network
/// namespace's**, not this process's: everything else in the namespace adds to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetTotals {
    pub external: NetBytes,
    pub loopback: NetBytes,
}

impl NetTotals {
    pub fn since(self, earlier: NetTotals) -> NetTotals {
        NetTotals {
            external: self.external.since(earlier.external),
            loopback: self.loopback.since(earlier.loopback),
        }
    }
}

/// The text of `/proc/<pid>/net/dev`: two header lines, then `name: rx_bytes rx_packets … (8
/// receive fields) tx_bytes …`. Lines that do not parse are skipped; `None` when none does.
pub fn parse_net_dev(text: &str) -> Option<NetTotals> {
    let mut totals = NetTotals::default();
    let mut any = false;
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        // The header lines have a `|` in place of a name.
        if name.is_empty() || name.contains('|') {
            continue;
        }
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        let (Some(rx), Some(tx)) = (
            fields.first().and_then(|f| f.parse::<u64>().ok()),
            fields.get(8).and_then(|f| f.parse::<u64>().ok()),
        ) else {
            continue;
        };
        any = true;
        if name == "lo" {
            totals.loopback.add(rx, tx);
        } else {
            totals.external.add(rx, tx);
        }
    }
    any.then_some(totals)
}

/// Bytes this process made the storage layer fetch and send (`read_bytes`, `write_bytes`: page
/// cache hits and unflushed writes to a file deleted before writeback are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoBytes {
    pub read: u64,
    pub write: u64,
}

impl IoBytes {
    pub fn since(self, earlier: IoBytes) -> IoBytes {
        IoBytes {
            read: self.read.saturating_sub(earlier.read),
            write: self.write.saturating_sub(earlier.write),
        }
    }
}

/// The text of `/proc/<pid>/io` (`read_bytes: N` lines); `None` when either key is missing.
pub fn parse_io(text: &str) -> Option<IoBytes> {
    let field = |key: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
            .trim()
            .parse()
            .ok()
    };
    Some(IoBytes {
        read: field("read_bytes")?,
        write: field("write_bytes")?,
    })
}

/// CPU use in % of one core between two samples `(seconds, ticks)`: above 100 on several cores,
/// 0 when the clock did not advance or went back.
pub fn cpu_percent(prev: (f64, u64), cur: (f64, u64), ticks_per_second: u64) -> f64 {
    let dt = cur.0 - prev.0;
    if dt.is_nan() || dt <= 0.0 || ticks_per_second == 0 {
        return 0.0;
    }
    let cpu_seconds = cur.1.saturating_sub(prev.1) as f64 / ticks_per_second as f64;
    cpu_seconds / dt * 100.0
}

/// One reading of the process's counters (cumulative, as the kernel keeps them). Only the CPU
/// time and RSS are required; the rest is `None` where the kernel does not offer it (no
/// `/proc/self/io` without the right capability in some containers).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
    /// The kernel's high-water mark of the RSS (`VmHWM`), which sees peaks between samples.
    pub rss_peak_bytes: Option<u64>,
    pub net: Option<NetTotals>,
    pub io: Option<IoBytes>,
}

/// The texts of one reading, as read from `/proc/self/*` (or a test's vectors).
#[derive(Debug, Clone, Default)]
pub struct ProcTexts {
    pub stat: String,
    pub statm: String,
    pub status: Option<String>,
    pub net_dev: Option<String>,
    pub io: Option<String>,
}

impl ProcTexts {
    /// The reading these texts make; `None` without a CPU time or an RSS.
    pub fn parse(&self, page_size: u64) -> Option<Reading> {
        Some(Reading {
            cpu_ticks: parse_stat_cpu_ticks(&self.stat)?,
            rss_bytes: parse_statm_rss_bytes(&self.statm, page_size)?,
            rss_peak_bytes: self
                .status
                .as_deref()
                .and_then(|s| parse_status_kb(s, "VmHWM")),
            net: self.net_dev.as_deref().and_then(parse_net_dev),
            io: self.io.as_deref().and_then(parse_io),
        })
    }
}
