//! The bench's pure statistics and parsers: quartiles and IQR outliers, fixed-bin histograms,
//! least-squares slopes, the stress test's step plan, and the two memory sources' text formats
//! (Prometheus exposition, `/proc/PID/status`). No IO, no clock.

#[cfg(test)]
mod tests;

/// The `q`-quantile (0..=1) of sorted samples, linearly interpolated between closest ranks
/// (numpy's default); `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Tukey's fences on the high side: the samples above Q3 + 1.5 IQR.
#[derive(Debug, Clone, PartialEq)]
pub struct Outliers {
    pub q1: f64,
    pub q3: f64,
    pub iqr: f64,
    /// Q3 + 1.5 IQR: a sample above it is an outlier.
    pub threshold: f64,
    pub count: usize,
    /// The largest outliers, largest first (at most [`Outliers::LISTED`]).
    pub largest: Vec<f64>,
}

impl Outliers {
    pub const LISTED: usize = 20;
}

/// The high outliers of `samples` (any order); `None` when empty.
pub fn outliers(samples: &[f64]) -> Option<Outliers> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let q1 = quantile(&sorted, 0.25)?;
    let q3 = quantile(&sorted, 0.75)?;
    let iqr = q3 - q1;
    let threshold = q3 + 1.5 * iqr;
    let above: Vec<f64> = sorted
        .iter()
        .rev()
        .take_while(|v| **v > threshold)
        .copied()
        .collect();
    Some(Outliers {
        q1,
        q3,
        iqr,
        threshold,
        count: above.len(),
        largest: above.into_iter().take(Outliers::LISTED).collect(),
    })
}

/// One histogram bin: `[lo, hi)` (the last bin includes `hi`).
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
}

/// `bins` equal-width bins from the smallest to the largest sample; empty without samples.
pub fn histogram(samples: &[f64], bins: usize) -> Vec<Bin> {
    let finite = || samples.iter().copied().filter(|v| v.is_finite());
    let (Some(min), Some(max)) = (
        finite().min_by(f64::total_cmp),
        finite().max_by(f64::total_cmp),
    ) else {
        return Vec::new();
    };
    let bins = bins.max(1);
    let width = if max > min {
        (max - min) / bins as f64
    } else {
        1.0
    };
    let mut out: Vec<Bin> = (0..bins)
        .map(|i| Bin {
            lo: min + width * i as f64,
            hi: min + width * (i + 1) as f64,
            count: 0,
        })
        .collect();
    for v in finite() {
        let i = (((v - min) / width) as usize).min(bins - 1);
        out[i].count += 1;
    }
    out
}

/// The least-squares slope of `y` over `x`; `None` with fewer than two distinct `x`.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The stress test's concurrency steps up to `max`: 1, 2, 5, 10, 20, 50, … below `max`, then
/// `max` itself (so `max` = 50 gives 1, 2, 5, 10, 20, 50).
pub fn step_plan(max: u64) -> Vec<u64> {
    let mut steps = Vec::new();
    let mut decade = 1u64;
    'outer: loop {
        for m in [1, 2, 5] {
            let Some(v) = decade.checked_mul(m) else {
                break 'outer;
            };
            if v >= max {
                break 'outer;
            }
            steps.push(v);
        }
        let Some(next) = decade.checked_mul(10) else {
            break;
        };
        decade = next;
    }
    steps.push(max.max(1));
    steps
}

/// The value of an unlabelled (or first) sample of `metric` in Prometheus text exposition.
pub fn prometheus_value(text: &str, metric: &str) -> Option<f64> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let rest = line.strip_prefix(metric)?;
            // `metric_total` must not match `metric`; labels `{…}` may follow the name.
            let rest = match rest.chars().next()? {
                ' ' | '\t' => rest,
                '{' => &rest[rest.find('}')? + 1..],
                _ => return None,
            };
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
}

/// `VmRSS` from the text of `/proc/PID/status`, in bytes.
pub fn status_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => value.checked_mul(1024),
        Some(_) => None,
    }
}
