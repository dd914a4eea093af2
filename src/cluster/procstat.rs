//! This process's CPU use and resident memory, as a worker's heartbeats report them (Locust's
//! `psutil.Process().cpu_percent()` and `memory_info().rss`). The parsers of `/proc/self/stat`
//! and `/proc/self/statm` are pure; [`ProcSampler`] reads the files (Linux only: elsewhere it
//! yields nothing and a worker reports 0).

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

/// One reading of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// % of one core since the previous sample (0 for the first).
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}

/// Reads `/proc/self/{stat,statm}` and turns successive readings into CPU percentages.
#[derive(Debug)]
pub struct ProcSampler {
    ticks_per_second: u64,
    page_size: u64,
    prev: Option<(f64, u64)>,
}

impl Default for ProcSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcSampler {
    pub fn new() -> Self {
        ProcSampler {
            ticks_per_second: sysconf_or(libc::_SC_CLK_TCK, 100),
            page_size: sysconf_or(libc::_SC_PAGESIZE, 4096),
            prev: None,
        }
    }

    /// A reading at `now` (any monotonic seconds); `None` where `/proc` is missing (not Linux).
    pub fn sample(&mut self, now: f64) -> Option<ProcSample> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let ticks = parse_stat_cpu_ticks(&stat)?;
        let rss_bytes = parse_statm_rss_bytes(&statm, self.page_size)?;
        Some(self.record(now, ticks, rss_bytes))
    }

    /// The pure half of [`ProcSampler::sample`].
    fn record(&mut self, now: f64, ticks: u64, rss_bytes: u64) -> ProcSample {
        let cpu_percent = self.prev.map_or(0.0, |prev| {
            cpu_percent(prev, (now, ticks), self.ticks_per_second)
        });
        self.prev = Some((now, ticks));
        ProcSample {
            cpu_percent,
            rss_bytes,
        }
    }
}

fn sysconf_or(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf only reads a configuration value; it takes no pointers.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 {
        v as u64
    } else {
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real /proc/self/stat line (Linux 6.x), with a command name holding ") (" and spaces.
    const STAT: &str = "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 2816 0 0 0 \
                        137 58 0 0 20 0 9 0 123456 1034211328 13564 18446744073709551615 \
                        1 1 0 0 0 0 0 4096 1088 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_cpu_ticks_are_utime_plus_stime_counted_from_the_last_paren() {
        assert_eq!(parse_stat_cpu_ticks(STAT), Some(137 + 58));
        let plain = "1 (skein) R 0 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 100 10 0";
        assert_eq!(parse_stat_cpu_ticks(plain), Some(10));
    }

    #[test]
    fn bad_stat_text_is_none_not_a_panic() {
        for bad in [
            "",
            "no paren at all",
            "1 (x) S 1 2",
            "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a b",
        ] {
            assert_eq!(parse_stat_cpu_ticks(bad), None, "{bad:?}");
        }
        let huge = format!("1 (x) S 1 1 1 0 -1 0 0 0 0 0 {} 1", u64::MAX);
        assert_eq!(parse_stat_cpu_ticks(&huge), None);
    }

    #[test]
    fn statm_rss_is_the_second_field_in_pages() {
        assert_eq!(
            parse_statm_rss_bytes("252493 13564 2900 1 0 45000 0\n", 4096),
            Some(13564 * 4096)
        );
        assert_eq!(parse_statm_rss_bytes("252493", 4096), None);
        assert_eq!(parse_statm_rss_bytes("1 x", 4096), None);
        assert_eq!(
            parse_statm_rss_bytes(&format!("1 {}", u64::MAX), 4096),
            None
        );
    }

    #[test]
    fn cpu_percent_is_of_one_core_over_the_wall_interval() {
        // 150 ticks at 100 Hz in 2 s = 1.5 CPU-seconds / 2 s = 75 %.
        assert_eq!(cpu_percent((10.0, 1000), (12.0, 1150), 100), 75.0);
        // Two busy cores: above 100.
        assert_eq!(cpu_percent((0.0, 0), (1.0, 200), 100), 200.0);
        assert_eq!(cpu_percent((5.0, 10), (5.0, 50), 100), 0.0);
        assert_eq!(cpu_percent((5.0, 10), (4.0, 50), 100), 0.0);
        assert_eq!(cpu_percent((0.0, 50), (1.0, 10), 100), 0.0);
    }

    #[test]
    fn the_sampler_reports_zero_first_then_the_difference() {
        let mut s = ProcSampler {
            ticks_per_second: 100,
            page_size: 4096,
            prev: None,
        };
        assert_eq!(s.record(100.0, 500, 7).cpu_percent, 0.0);
        let second = s.record(110.0, 600, 9);
        assert_eq!(second.cpu_percent, 10.0);
        assert_eq!(second.rss_bytes, 9);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_memory_and_cpu_readings() {
        let mut s = ProcSampler::new();
        let first = s.sample(0.0).expect("/proc/self on Linux");
        assert!(first.rss_bytes > 1 << 20, "{first:?}");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let second = s.sample(1.0).expect("second sample");
        assert!(second.cpu_percent >= 0.0);
        assert_eq!(s.ticks_per_second, 100, "Linux's USER_HZ");
    }
}
