use super::*;

#[test]
fn quantiles_interpolate() {
    let s = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(quantile(&s, 0.0), Some(1.0));
    assert_eq!(quantile(&s, 1.0), Some(4.0));
    assert_eq!(quantile(&s, 0.5), Some(2.5));
    assert_eq!(quantile(&s, 0.25), Some(1.75));
    assert_eq!(quantile(&[], 0.5), None);
}

#[test]
fn iqr_outliers() {
    // 13 samples: Q1 is the 4th (4), Q3 the 10th (10): IQR 6, fence 19.
    let mut s: Vec<f64> = (1..=10).map(f64::from).collect();
    s.extend([14.0, 15.0, 100.0]);
    let o = outliers(&s).unwrap();
    assert_eq!(o.q1, 4.0);
    assert_eq!(o.q3, 10.0);
    assert_eq!(o.threshold, 19.0);
    assert_eq!(o.count, 1);
    assert_eq!(o.largest, [100.0]);
    let flat = outliers(&[5.0; 8]).unwrap();
    assert_eq!((flat.iqr, flat.count), (0.0, 0));
    assert!(outliers(&[]).is_none());
}

#[test]
fn histogram_bins() {
    let h = histogram(&[0.0, 1.0, 2.0, 3.0, 4.0], 4);
    assert_eq!(h.len(), 4);
    assert_eq!(h.iter().map(|b| b.count).collect::<Vec<_>>(), [1, 1, 1, 2]);
    assert_eq!((h[0].lo, h[3].hi), (0.0, 4.0));
    let one = histogram(&[7.0, 7.0], 3);
    assert_eq!(one[0].count, 2);
    assert!(histogram(&[], 5).is_empty());
    assert!(histogram(&[f64::NAN], 5).is_empty());
}

#[test]
fn least_squares_slope() {
    assert_eq!(slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]), Some(2.0));
    let s = slope(&[(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 1.0)]).unwrap();
    assert!((s - 0.2).abs() < 1e-12, "{s}");
    assert_eq!(slope(&[(1.0, 1.0)]), None);
    assert_eq!(slope(&[(1.0, 1.0), (1.0, 5.0)]), None);
}

#[test]
fn step_plans() {
    assert_eq!(step_plan(50), [1, 2, 5, 10, 20, 50]);
    assert_eq!(step_plan(1), [1]);
    assert_eq!(step_plan(3), [1, 2, 3]);
    assert_eq!(step_plan(100), [1, 2, 5, 10, 20, 50, 100]);
    assert_eq!(step_plan(7), [1, 2, 5, 7]);
    assert_eq!(step_plan(0), [1]);
    assert!(step_plan(u64::MAX).len() < 64);
}

#[test]
fn prometheus_text() {
    let text = "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                # TYPE process_resident_memory_bytes gauge\n\
                process_resident_memory_bytes_total 1\n\
                process_resident_memory_bytes 1.2345e+07\n";
    assert_eq!(
        prometheus_value(text, "process_resident_memory_bytes"),
        Some(12_345_000.0)
    );
    let labelled = "process_resident_memory_bytes{pid=\"7\"} 2048 1700000000\n";
    assert_eq!(
        prometheus_value(labelled, "process_resident_memory_bytes"),
        Some(2048.0)
    );
    assert_eq!(
        prometheus_value("up 1\n", "process_resident_memory_bytes"),
        None
    );
    assert_eq!(
        prometheus_value(
            "process_resident_memory_bytes x\n",
            "process_resident_memory_bytes"
        ),
        None
    );
}

#[test]
fn proc_status_rss() {
    let status = "Name:\tskein\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
    assert_eq!(status_rss_bytes(status), Some(12345 * 1024));
    assert_eq!(status_rss_bytes("Name:\tkthreadd\n"), None);
    assert_eq!(status_rss_bytes("VmRSS:\tlots kB\n"), None);
}
