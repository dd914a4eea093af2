use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::sample::*;
use super::summary::*;
use super::verdict::*;
use super::*;
use crate::control::{MembershipView, RunStatus};
use crate::engine::{RunState, RunnerStatus};

// A real /proc/self/stat line (Linux 6.x), with a command name holding ") (" and spaces.
const STAT: &str = "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 2816 0 0 0 \
                    137 58 0 0 20 0 9 0 123456 1034211328 13564 18446744073709551615 \
                    1 1 0 0 0 0 0 4096 1088 0 0 0 17 1 0 0 0 0 0\n";

const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3194      29    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 151910676    4113    0    0    0     0          0         0   225534    2235    0    0    0     0       0          0
docker0:     100       0    0    0    0     0          0         0       20       0    0    2    0     0       0          0
";

const IO: &str = "rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";

const STATUS: &str =
    "Name:\tskein\nVmPeak:\t  10000 kB\nVmHWM:\t    2020 kB\nVmRSS:\t    2000 kB\n";

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
fn status_kb_lines_are_bytes() {
    assert_eq!(parse_status_kb(STATUS, "VmHWM"), Some(2020 * 1024));
    assert_eq!(parse_status_kb(STATUS, "VmRSS"), Some(2000 * 1024));
    assert_eq!(parse_status_kb(STATUS, "VmSwap"), None);
    assert_eq!(parse_status_kb("VmHWM:\t12 MB\n", "VmHWM"), None);
    assert_eq!(parse_status_kb("VmHWM:\tx kB\n", "VmHWM"), None);
}

#[test]
fn net_dev_sums_loopback_apart_from_the_other_interfaces() {
    let n = parse_net_dev(NET_DEV).unwrap();
    assert_eq!(n.loopback, NetBytes { rx: 3193, tx: 3194 });
    assert_eq!(
        n.external,
        NetBytes {
            rx: 151910676 + 100,
            tx: 225534 + 20
        }
    );
    // Headers only, or garbage: nothing to report.
    assert_eq!(
        parse_net_dev(&NET_DEV.lines().take(2).collect::<Vec<_>>().join("\n")),
        None
    );
    assert_eq!(parse_net_dev("lo: x y\n"), None);
    // A short line is skipped, the rest still counts.
    let partial = format!("{NET_DEV}  bad0: 1 2 3\n");
    assert_eq!(parse_net_dev(&partial), Some(n));
}

#[test]
fn net_counters_that_go_back_count_as_nothing() {
    let a = NetBytes { rx: 100, tx: 50 };
    let b = NetBytes { rx: 40, tx: 70 };
    assert_eq!(b.since(a), NetBytes { rx: 0, tx: 20 });
}

#[test]
fn io_reads_the_storage_bytes_not_rchar() {
    assert_eq!(
        parse_io(IO),
        Some(IoBytes {
            read: 4096,
            write: 8192
        })
    );
    assert_eq!(parse_io("rchar: 1\nread_bytes: 5\n"), None);
    assert_eq!(parse_io("read_bytes: x\nwrite_bytes: 1\n"), None);
}

#[test]
fn proc_texts_need_only_cpu_and_rss() {
    let t = ProcTexts {
        stat: STAT.into(),
        statm: "1 10 0\n".into(),
        ..ProcTexts::default()
    };
    let r = t.parse(4096).unwrap();
    assert_eq!((r.cpu_ticks, r.rss_bytes), (195, 40960));
    assert_eq!((r.rss_peak_bytes, r.net, r.io), (None, None, None));
    let full = ProcTexts {
        status: Some(STATUS.into()),
        net_dev: Some(NET_DEV.into()),
        io: Some(IO.into()),
        ..t.clone()
    };
    let r = full.parse(4096).unwrap();
    assert_eq!(r.rss_peak_bytes, Some(2020 * 1024));
    assert!(r.net.is_some() && r.io.is_some());
    let no_stat = ProcTexts {
        stat: "garbage".into(),
        ..full
    };
    assert_eq!(no_stat.parse(4096), None);
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
fn the_heartbeat_sampler_reports_zero_first_then_the_difference() {
    let mut s = ProcSampler::with_ticks(100);
    assert_eq!(s.record(100.0, 500, 7).cpu_percent, 0.0);
    let second = s.record(110.0, 600, 9);
    assert_eq!(second.cpu_percent, 10.0);
    assert_eq!(second.rss_bytes, 9);
}

#[cfg(target_os = "linux")]
#[test]
fn this_process_has_readings() {
    let mut p = ProcProbe::default();
    let r = p.read().expect("/proc/self on Linux");
    assert!(r.rss_bytes > 1 << 20, "{r:?}");
    assert!(r.net.is_some(), "{r:?}");
    assert_eq!(sampler::ticks_per_second(), 100, "Linux's USER_HZ");
    let mut s = ProcSampler::new();
    assert!(s.sample(0.0).is_some());
}

fn reading(ticks: u64, rss: u64, net: (u64, u64, u64, u64), io: (u64, u64)) -> Reading {
    Reading {
        cpu_ticks: ticks,
        rss_bytes: rss,
        rss_peak_bytes: None,
        net: Some(NetTotals {
            external: NetBytes {
                rx: net.0,
                tx: net.1,
            },
            loopback: NetBytes {
                rx: net.2,
                tx: net.3,
            },
        }),
        io: Some(IoBytes {
            read: io.0,
            write: io.1,
        }),
    }
}

fn active() -> Context {
    Context {
        active: true,
        workers: Vec::new(),
    }
}

#[test]
fn two_readings_over_the_injected_clock_give_the_cpu_and_the_deltas() {
    let mut s = HealthSummary::new(2, 100, 10);
    assert_eq!(
        s.record(0.0, 1000.0, reading(0, 10, (0, 0, 0, 0), (0, 0)), &active()),
        None
    );
    assert_eq!(s.samples().len(), 0, "the first reading has no CPU % yet");
    s.record(
        2.0,
        1002.0,
        reading(150, 30, (100, 10, 1000, 1000), (4096, 0)),
        &active(),
    );
    let got: Vec<Sample> = s.samples().copied().collect();
    assert_eq!(
        got,
        vec![Sample {
            time: 1002.0,
            cpu_percent: 75.0,
            rss_bytes: 30,
            net_rx_bytes: 1100,
            net_tx_bytes: 1010,
            disk_read_bytes: 4096,
            disk_write_bytes: 0,
            active: true,
        }]
    );
    assert_eq!(s.cpu.samples, 1);
    assert_eq!(s.cpu.mean(), 75.0);
    assert_eq!(s.rss_peak_bytes(), 30);
    let n = s.net_totals().unwrap();
    assert_eq!((n.external.rx, n.loopback.tx), (100, 1000));
    assert_eq!(s.disk_totals().unwrap().read, 4096);
    assert_eq!(s.duration_seconds(), 2.0);
}

#[test]
fn idle_samples_are_kept_for_charts_but_not_counted() {
    let mut s = HealthSummary::new(1, 100, 10);
    let idle = Context::default();
    s.record(0.0, 0.0, reading(0, 1, (0, 0, 0, 0), (0, 0)), &idle);
    s.record(1.0, 1.0, reading(100, 1, (0, 0, 0, 0), (0, 0)), &idle);
    s.record(2.0, 2.0, reading(150, 1, (0, 0, 0, 0), (0, 0)), &active());
    assert_eq!(s.samples().len(), 2);
    assert_eq!((s.cpu.samples, s.cpu.max), (1, 50.0));
}

#[test]
fn the_sample_ring_is_bounded_and_keeps_the_newest() {
    let mut s = HealthSummary::new(1, 100, RING_CAPACITY);
    for i in 0..(RING_CAPACITY as u64 * 2 + 7) {
        s.record(
            i as f64,
            i as f64,
            reading(i, 1, (i, i, i, i), (0, 0)),
            &active(),
        );
    }
    assert_eq!(s.samples().len(), RING_CAPACITY);
    assert_eq!(
        s.samples().last().unwrap().time,
        (RING_CAPACITY * 2 + 6) as f64
    );
    // The statistics still cover every sample.
    assert_eq!(s.cpu.samples, RING_CAPACITY as u64 * 2 + 6);
    let json = s.to_json();
    assert_eq!(
        json["series"]["cpu_percent"].as_array().unwrap().len(),
        RING_CAPACITY
    );
}

#[test]
fn tracked_workers_are_bounded() {
    let mut s = HealthSummary::new(1, 100, 0);
    s.record(0.0, 0.0, reading(0, 1, (0, 0, 0, 0), (0, 0)), &active());
    let many = Context {
        active: true,
        workers: (0..MAX_TRACKED_WORKERS + 5)
            .map(|i| WorkerLoad {
                id: format!("w{i}"),
                cpu_percent: 95.0,
                memory_bytes: 7,
            })
            .collect(),
    };
    s.record(1.0, 1.0, reading(1, 1, (0, 0, 0, 0), (0, 0)), &many);
    assert_eq!(s.workers().len(), MAX_TRACKED_WORKERS);
    assert_eq!(s.samples().len(), 0, "capacity 0 keeps no samples");
    let w = &s.workers()["w0"];
    assert_eq!((w.cpu.saturated, w.peak_memory_bytes), (1, 7));
}

#[test]
fn the_warning_is_given_once_for_a_ten_second_window_above_the_limit() {
    // Two cores: the limit is 180 % of one core.
    let mut s = HealthSummary::new(2, 100, 100);
    assert_eq!(s.cpu_limit_percent(), 180.0);
    let mut warnings = Vec::new();
    let mut ticks = 0;
    // 5 s at 190 % then 5 s at 100 %: the window averages 145 %, no warning, although five
    // samples were above the limit.
    for t in 0..=20u64 {
        if t > 0 {
            ticks += if t <= 5 {
                190
            } else if t <= 10 {
                100
            } else {
                195
            };
        }
        if let Some(p) = s.record(
            t as f64,
            t as f64,
            reading(ticks, 1, (0, 0, 0, 0), (0, 0)),
            &active(),
        ) {
            warnings.push((t, p));
        }
    }
    assert_eq!(warnings, vec![(20, 195.0)]);
    assert!(s.cpu_warned);
    assert_eq!(s.cpu.saturated, 15);
    // Later windows above the limit do not warn again.
    for t in 21..=40u64 {
        ticks += 199;
        assert_eq!(
            s.record(
                t as f64,
                t as f64,
                reading(ticks, 1, (0, 0, 0, 0), (0, 0)),
                &active()
            ),
            None
        );
    }
}

#[test]
fn the_json_has_the_totals_and_the_workers() {
    let mut s = HealthSummary::new(1, 100, 10);
    s.record(0.0, 0.0, reading(0, 5, (0, 0, 0, 0), (0, 0)), &active());
    let ctx = Context {
        active: true,
        workers: vec![WorkerLoad {
            id: "w1".into(),
            cpu_percent: 42.0,
            memory_bytes: 99,
        }],
    };
    s.record(1.0, 1.0, reading(50, 9, (1, 2, 3, 4), (5, 6)), &ctx);
    let j = s.to_json();
    assert_eq!(j["cpu_percent"]["mean"], 50.0);
    assert_eq!(j["rss_bytes"]["peak"], 9);
    assert_eq!(j["network"]["loopback"]["tx_bytes"], 4);
    assert_eq!(j["disk"]["write_bytes"], 6);
    assert_eq!(j["workers"][0]["id"], "w1");
    assert_eq!(j["workers"][0]["cpu_percent"]["max"], 42.0);
    assert_eq!(j["cpu_warning"], false);
    let text = text::generator_block(&s);
    assert!(
        text.starts_with("Generator (this skein process)\n"),
        "{text}"
    );
    assert!(
        text.contains("CPU: mean 50.0%, max 50.0% of one core"),
        "{text}"
    );
    assert!(text.contains("Worker w1: CPU mean 42.0%"), "{text}");
    assert!(text.contains("Disk: 5 B read, 6 B written"), "{text}");
}

#[test]
fn without_net_or_io_the_totals_say_so() {
    let mut s = HealthSummary::new(1, 100, 10);
    let bare = Reading {
        cpu_ticks: 0,
        rss_bytes: 1,
        ..Reading::default()
    };
    s.record(0.0, 0.0, bare, &active());
    s.record(1.0, 1.0, bare, &active());
    assert_eq!((s.net_totals(), s.disk_totals()), (None, None));
    assert!(s.to_json()["network"].is_null());
    assert!(text::generator_block(&s).contains("Network: not available"));
}

#[test]
fn bytes_read_as_binary_units() {
    assert_eq!(text::bytes(0), "0 B");
    assert_eq!(text::bytes(1023), "1023 B");
    assert_eq!(text::bytes(1536), "1.5 KiB");
    assert_eq!(text::bytes(45 * 1024 * 1024), "45.0 MiB");
}

// ---- the verdict ---------------------------------------------------------------------------

fn cpu(samples: u64, saturated: u64) -> CpuLoad {
    CpuLoad {
        samples,
        saturated,
        max_percent: 99.0,
        limit_percent: 90.0,
    }
}

#[test]
fn a_quiet_run_is_valid() {
    let v = verdict(&VerdictInput {
        generator: cpu(100, 10),
        workers: vec![("w1".into(), cpu(100, 10))],
        open_model: OpenModelCounts {
            late_starts: 10,
            dropped: 0,
            scheduled: 1000,
        },
        workers_lost: Vec::new(),
        failures: FailureMix {
            connection: 5,
            failures: 10,
            requests: 1000,
        },
    });
    assert_eq!(v, Verdict::Valid);
    assert_eq!(v.line(), "Run verdict: valid");
    assert_eq!(v.to_json()["valid"], true);
    // No input at all (a run that never started) is valid too.
    assert_eq!(verdict(&VerdictInput::default()), Verdict::Valid);
}

fn reasons(input: VerdictInput) -> Vec<&'static str> {
    match verdict(&input) {
        Verdict::Valid => Vec::new(),
        Verdict::Suspect { reasons } => reasons.iter().map(Reason::kind).collect(),
    }
}

#[test]
fn each_reason_alone() {
    let base = VerdictInput::default;
    assert_eq!(
        reasons(VerdictInput {
            generator: cpu(100, 11),
            ..base()
        }),
        ["generator_cpu"]
    );
    assert_eq!(
        reasons(VerdictInput {
            workers: vec![("a".into(), cpu(10, 1)), ("b".into(), cpu(10, 2))],
            ..base()
        }),
        ["worker_cpu"]
    );
    let om = |late, dropped| VerdictInput {
        open_model: OpenModelCounts {
            late_starts: late,
            dropped,
            scheduled: 1000,
        },
        ..base()
    };
    assert_eq!(reasons(om(11, 0)), ["late_starts"]);
    assert!(reasons(om(10, 0)).is_empty(), "exactly 1 % is allowed");
    assert_eq!(reasons(om(0, 1)), ["dropped_iterations"]);
    assert_eq!(
        reasons(VerdictInput {
            workers_lost: vec![LostWorker {
                worker: "w".into(),
                change: "missing".into()
            }],
            ..base()
        }),
        ["worker_lost"]
    );
    let mix = |connection, failures, requests| VerdictInput {
        failures: FailureMix {
            connection,
            failures,
            requests,
        },
        ..base()
    };
    assert_eq!(reasons(mix(6, 10, 1000)), ["connection_failures"]);
    assert!(
        reasons(mix(5, 10, 1000)).is_empty(),
        "half is not dominated"
    );
    assert!(
        reasons(mix(2, 2, 1_000_000)).is_empty(),
        "two resets in a million requests say nothing"
    );
    assert_eq!(reasons(mix(1000, 1000, 1_000_000)), ["connection_failures"]);
}

#[test]
fn reasons_combine_in_a_fixed_order_with_readable_texts() {
    let v = verdict(&VerdictInput {
        generator: cpu(10, 5),
        workers: vec![("w1".into(), cpu(10, 10))],
        open_model: OpenModelCounts {
            late_starts: 50,
            dropped: 3,
            scheduled: 100,
        },
        workers_lost: vec![LostWorker {
            worker: "w2".into(),
            change: "quit".into(),
        }],
        failures: FailureMix {
            connection: 9,
            failures: 10,
            requests: 100,
        },
    });
    let Verdict::Suspect { reasons } = &v else {
        panic!("{v:?}")
    };
    let kinds: Vec<&str> = reasons.iter().map(Reason::kind).collect();
    assert_eq!(
        kinds,
        [
            "generator_cpu",
            "worker_cpu",
            "late_starts",
            "dropped_iterations",
            "worker_lost",
            "connection_failures"
        ]
    );
    let line = v.line();
    assert!(
        line.starts_with("Run verdict: SUSPECT — generator CPU above 90% in 5 of 10 samples"),
        "{line}"
    );
    assert!(
        line.contains("worker w1 CPU above 90% in 10 of 10 samples"),
        "{line}"
    );
    assert!(
        line.contains("50 of 100 scheduled iterations started late (50.00%, limit 1%)"),
        "{line}"
    );
    assert!(
        line.contains("3 of 100 scheduled iterations dropped"),
        "{line}"
    );
    assert!(line.contains("worker w2 lost mid-run (quit)"), "{line}");
    assert!(
        line.contains("9 of 10 failures (90%, limit 50%) are connection failures"),
        "{line}"
    );
    let j = v.to_json();
    assert_eq!(j["valid"], false);
    assert_eq!(j["reasons"].as_array().unwrap().len(), 6);
    assert_eq!(j["reasons"][4]["kind"], "worker_lost");
}

#[test]
fn connection_failures_are_told_from_the_target_answering() {
    for conn in [
        "ConnectionRefusedError(111, 'Connection refused')",
        "ConnectionResetError(104, 'Connection reset by peer')",
        "RemoteDisconnected('Remote end closed connection without response')",
        "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='h', port=1): Read timed out. (read timeout=2)\"))",
        "ReadTimeoutError(\"HTTPConnectionPool(host='h', port=1): Read timed out.\")",
        "ConnectTimeoutError(<HTTPConnection(host='h', port=1) at 0x....>, 'Connection to h timed out. (connect timeout=2)')",
        "gaierror(-2, 'Name or service not known')",
        "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError(104, 'Connection reset by peer')\", ConnectionResetError(104, 'Connection reset by peer')))",
        "BrokenPipeError(32, 'Broken pipe')",
    ] {
        assert!(is_connection_failure(conn), "{conn}");
    }
    for answered in [
        "HTTPError('500 Server Error: Internal Server Error for url: /x')",
        "CatchResponseError('bad body')",
        "BadStatusLine('HELLO WORLD\\r\\n')",
        "TooManyRedirects('Exceeded 30 redirects.')",
        "ChunkedEncodingError(ProtocolError('Response ended prematurely'))",
        "",
    ] {
        assert!(!is_connection_failure(answered), "{answered}");
    }
}

#[test]
fn the_failure_mix_counts_occurrences_of_the_failures_table() {
    let mut stats = crate::stats::RequestStats::new(0.0);
    for _ in 0..3 {
        stats.log_request("GET", "/a", Some(1.0), 0, 1.0);
        stats.log_error(
            "GET",
            "/a",
            "ConnectionRefusedError(111, 'Connection refused')",
            1.0,
        );
    }
    stats.log_request("GET", "/a", Some(1.0), 0, 1.0);
    stats.log_error(
        "GET",
        "/a",
        "HTTPError('500 Server Error: x for url: /a')",
        1.0,
    );
    stats.log_request("GET", "/b", Some(1.0), 0, 1.0);
    assert_eq!(
        failure_mix(&stats),
        FailureMix {
            connection: 3,
            failures: 4,
            requests: 5
        }
    );
}

fn change(time: f64, worker: &str, change: &'static str) -> MembershipView {
    MembershipView {
        time,
        worker: worker.into(),
        index: 0,
        change,
    }
}

#[test]
fn lost_workers_are_the_missing_and_the_early_quitters_once_each() {
    let events = [
        change(1.0, "a", "joined"),
        change(1.0, "b", "joined"),
        change(1.0, "c", "joined"),
        change(5.0, "a", "missing"),
        change(6.0, "a", "self-healed"),
        change(7.0, "a", "missing"),
        change(8.0, "b", "quit"),
        change(20.0, "c", "quit"),
        change(21.0, "a", "quit"),
    ];
    let lost = lost_workers(&events, Some(19.0));
    let got: Vec<(&str, &str)> = lost
        .iter()
        .map(|w| (w.worker.as_str(), w.change.as_str()))
        .collect();
    assert_eq!(got, [("a", "missing"), ("b", "quit")]);
    // Still running: every quit is a loss.
    assert_eq!(lost_workers(&events, None).len(), 3);
    assert!(lost_workers(&[change(1.0, "a", "stopped")], None).is_empty());
}

fn running_status() -> RunnerStatus {
    RunnerStatus {
        state: RunState::Running,
        user_count: 0,
        class_counts: Default::default(),
        target: 0,
        spawn_rate: 0.0,
        host: None,
        peak_user_count: 0,
        final_class_counts: Default::default(),
    }
}

#[test]
fn the_input_comes_from_the_summary_the_status_and_the_stats() {
    let mut s = HealthSummary::new(1, 100, 10);
    s.record(0.0, 0.0, reading(0, 1, (0, 0, 0, 0), (0, 0)), &active());
    s.record(1.0, 1.0, reading(95, 1, (0, 0, 0, 0), (0, 0)), &active());
    let mut status = RunStatus::local(running_status());
    status.membership = vec![change(0.5, "w", "missing")];
    let stats = crate::stats::RequestStats::new(0.0);
    let input = input_from(&s, &status, &stats, OpenModelCounts::default(), None);
    assert_eq!(input.generator.saturated, 1);
    assert_eq!(input.workers_lost.len(), 1);
    assert_eq!(reasons(input), ["generator_cpu", "worker_lost"]);
}

// ---- the task ------------------------------------------------------------------------------

/// Readings from a script: each read takes the next one (the last one repeats).
struct Scripted(Arc<Mutex<Vec<Reading>>>);

impl Probe for Scripted {
    fn read(&mut self) -> Option<Reading> {
        let mut v = self.0.lock().unwrap();
        if v.len() > 1 {
            Some(v.remove(0))
        } else {
            v.first().copied()
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_task_samples_each_interval_and_once_more_at_the_end() {
    let script: Vec<Reading> = (0..5u64)
        .map(|i| reading(i * 50, 100 + i, (0, 0, i * 10, i * 10), (0, 0)))
        .collect();
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let setup = SamplerSetup {
        probe: Scripted(Arc::new(Mutex::new(script))),
        context: Box::new(move || {
            *c.lock().unwrap() += 1;
            active()
        }),
        interval: Duration::from_secs(1),
        capacity: 3,
        cores: 1,
        ticks_per_second: 100,
    };
    let parent = CancellationToken::new();
    let sampler = HealthSampler::spawn(setup, &parent);
    let mut w = sampler.watch();
    // Readings at 0, 1, 2 and 3 s (paused time advances as the task sleeps).
    while w.borrow_and_update().cpu.samples < 3 {
        w.changed().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = sampler.finish().await;
    // 4 interval readings + the last one at 3.5 s; the ring keeps 3.
    assert_eq!(*calls.lock().unwrap(), 5);
    assert_eq!(s.cpu.samples, 4);
    assert_eq!(s.samples().len(), 3);
    assert_eq!(s.rss_last_bytes, 104);
    assert_eq!(s.cpu.max, 100.0, "the last 50 ticks came in 0.5 s");
    assert_eq!(s.net_totals().unwrap().loopback.rx, 40);
}

#[tokio::test(start_paused = true)]
async fn the_parent_token_ends_the_task() {
    let setup = SamplerSetup {
        probe: Scripted(Arc::new(Mutex::new(vec![reading(
            0,
            1,
            (0, 0, 0, 0),
            (0, 0),
        )]))),
        context: Box::new(Context::default),
        interval: Duration::from_secs(1),
        capacity: 3,
        cores: 1,
        ticks_per_second: 100,
    };
    let parent = CancellationToken::new();
    let sampler = HealthSampler::spawn(setup, &parent);
    let mut w = sampler.watch();
    parent.cancel();
    // The sender goes away with the task.
    while w.changed().await.is_ok() {}
    let s = sampler.finish().await;
    assert_eq!(s.cpu.samples, 0);
}

/// A probe whose CPU time grows by `per_read` ticks at every read.
struct Busy {
    ticks: u64,
    per_read: u64,
}

impl Probe for Busy {
    fn read(&mut self) -> Option<Reading> {
        self.ticks += self.per_read;
        Some(reading(self.ticks, 1, (0, 0, 0, 0), (0, 0)))
    }
}

#[tokio::test(start_paused = true)]
async fn a_saturated_process_warns_once_after_the_first_ten_second_window() {
    let setup = SamplerSetup {
        // 95 ticks a second at 100 Hz on one core: 95 %.
        probe: Busy {
            ticks: 0,
            per_read: 95,
        },
        context: Box::new(active),
        interval: Duration::from_secs(1),
        capacity: 100,
        cores: 1,
        ticks_per_second: 100,
    };
    let sampler = HealthSampler::spawn(setup, &CancellationToken::new());
    let mut w = sampler.watch();
    while w.borrow_and_update().cpu.samples < 9 {
        w.changed().await.unwrap();
    }
    assert!(!w.borrow().cpu_warned, "not before a whole window");
    while w.borrow_and_update().cpu.samples < 12 {
        w.changed().await.unwrap();
    }
    assert!(w.borrow().cpu_warned);
    let s = sampler.finish().await;
    assert_eq!(s.cpu.saturated, s.cpu.samples);
    let v = assess(
        &s,
        &RunStatus::local(running_status()),
        &crate::stats::RequestStats::new(0.0),
        &crate::stats::open::OpenStats::new(10, 0.0),
        None,
    );
    assert_eq!(
        match v {
            Verdict::Suspect { reasons } => reasons.iter().map(Reason::kind).collect(),
            Verdict::Valid => Vec::new(),
        },
        ["generator_cpu"]
    );
}

#[test]
fn the_context_counts_running_users_and_the_workers_running_them() {
    use crate::control::WorkerView;
    let view = |id: &str, state: &str| WorkerView {
        id: id.into(),
        state: state.into(),
        user_count: 1,
        cpu_percent: 50.0,
        memory_bytes: 3,
    };
    let mut st = RunStatus::local(running_status());
    st.workers = vec![
        view("a", "running"),
        view("b", "ready"),
        view("c", "spawning"),
        view("d", "missing"),
    ];
    let ctx = context_of(&st);
    assert!(ctx.active);
    let ids: Vec<&str> = ctx.workers.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    for (state, active) in [
        (RunState::Ready, false),
        (RunState::Spawning, true),
        (RunState::Stopping, false),
        (RunState::Stopped, false),
    ] {
        st.runner.state = state;
        assert_eq!(context_of(&st).active, active, "{state:?}");
    }
}
