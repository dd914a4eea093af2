//! The console's "Generator" block and verdict line, printed after Locust's summary tables.

use super::summary::HealthSummary;
use super::verdict::Verdict;

/// `12.3 MiB`, `512 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The block: this process's CPU, memory, network and disk, then each worker's CPU on a master.
pub fn generator_block(s: &HealthSummary) -> String {
    block(s, false)
}

/// The block; `with_target` when the embedded reference service runs in this process (its
/// work is then in the figures too).
pub fn block(s: &HealthSummary, with_target: bool) -> String {
    let mut out = if with_target {
        String::from(
            "Generator (this skein process, including the embedded reference service it runs)\n",
        )
    } else {
        String::from("Generator (this skein process)\n")
    };
    let c = &s.cpu;
    if c.samples == 0 {
        out.push_str("  CPU: no samples while users ran\n");
    } else {
        out.push_str(&format!(
            "  CPU: mean {:.1}%, max {:.1}% of one core ({} cores; above {:.0}% in {} of {} samples)\n",
            c.mean(),
            c.max,
            s.cores(),
            s.cpu_limit_percent(),
            c.saturated,
            c.samples
        ));
    }
    out.push_str(&format!(
        "  Memory: peak RSS {}\n",
        bytes(s.rss_peak_bytes())
    ));
    match s.net_totals() {
        Some(n) => out.push_str(&format!(
            "  Network (whole network namespace): {} in, {} out; loopback {} in, {} out\n",
            bytes(n.external.rx),
            bytes(n.external.tx),
            bytes(n.loopback.rx),
            bytes(n.loopback.tx)
        )),
        None => out.push_str("  Network: not available\n"),
    }
    match s.disk_totals() {
        Some(d) => out.push_str(&format!(
            "  Disk: {} read, {} written\n",
            bytes(d.read),
            bytes(d.write)
        )),
        None => out.push_str("  Disk: not available\n"),
    }
    for (id, w) in s.workers() {
        out.push_str(&format!(
            "  Worker {id}: CPU mean {:.1}%, max {:.1}% (above 90% in {} of {} samples); peak memory {}\n",
            w.cpu.mean(),
            w.cpu.max,
            w.cpu.saturated,
            w.cpu.samples,
            bytes(w.peak_memory_bytes)
        ));
    }
    out
}

/// The block and the verdict line, as printed at the end of a run.
pub fn final_text(s: &HealthSummary, v: &Verdict, with_target: bool) -> String {
    // A blank line after it, as after every block of the summary.
    format!("{}{}\n\n", block(s, with_target), v.line())
}

/// One log line for a process that prints no summary (a worker).
pub fn one_line(s: &HealthSummary) -> String {
    format!(
        "Generator: CPU mean {:.1}%, max {:.1}% of one core ({} cores, {} samples while users ran); peak RSS {}",
        s.cpu.mean(),
        s.cpu.max,
        s.cores(),
        s.cpu.samples,
        bytes(s.rss_peak_bytes())
    )
}
