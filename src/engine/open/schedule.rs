//! When the open model's iterations are due: a constant arrival rate from a start time, and the
//! class each iteration goes to. Pure code: the caller says how much time has passed.

use std::time::Duration;

/// Iteration `k` is due `k / rate` seconds after the start, whatever happened to the others
/// (k6's constant-arrival-rate): a slow target or a late timer never moves the schedule, so
/// lateness shows as late starts instead of a lower rate.
#[derive(Debug, Clone)]
pub struct RateSchedule {
    rate: f64,
    start: f64,
    next: u64,
    /// Since the last retarget, iteration `base_k + i` is due `base_offset + i / rate` after
    /// the start (both zero until then).
    base_k: u64,
    base_offset: Duration,
}

impl RateSchedule {
    /// `rate` iterations per second from `start` (epoch seconds); `None` unless the rate is a
    /// finite number above zero.
    pub fn new(rate: f64, start: f64) -> Option<Self> {
        (rate > 0.0 && rate.is_finite()).then_some(RateSchedule {
            rate,
            start,
            next: 0,
            base_k: 0,
            base_offset: Duration::ZERO,
        })
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// How long after the start iteration `k` is due (`k` from the current rate's segment: not
    /// one taken before the last retarget).
    pub fn offset(&self, k: u64) -> Duration {
        let since = k.saturating_sub(self.base_k) as f64 / self.rate;
        // A due time past Duration's range is "never" for any run.
        Duration::try_from_secs_f64(since)
            .ok()
            .and_then(|d| d.checked_add(self.base_offset))
            .unwrap_or(Duration::MAX)
    }

    /// When iteration `k` is due, epoch seconds (the records' `scheduled_at`).
    pub fn scheduled_at(&self, k: u64) -> f64 {
        self.at(self.offset(k))
    }

    /// The epoch time `offset` after the start.
    pub fn at(&self, offset: Duration) -> f64 {
        self.start + offset.as_secs_f64()
    }

    /// Changes the rate `elapsed` after the start: the iterations not yet taken follow the new
    /// rate from now, the next one due no later than it was and no later than one new interval
    /// from now. False (and nothing changes) unless the rate is a finite number above zero.
    pub fn retarget(&mut self, rate: f64, elapsed: Duration) -> bool {
        if !(rate > 0.0 && rate.is_finite()) {
            return false;
        }
        let one = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX);
        let next = self
            .next_offset()
            .min(elapsed.checked_add(one).unwrap_or(Duration::MAX));
        self.base_k = self.next;
        self.base_offset = next;
        self.rate = rate;
        true
    }

    /// The offset of the next iteration not yet taken.
    pub fn next_offset(&self) -> Duration {
        self.offset(self.next)
    }

    /// Iterations taken so far (those already due).
    pub fn taken(&self) -> u64 {
        self.next
    }

    /// The next iteration if it is due `elapsed` after the start: its number.
    pub fn pop_due(&mut self, elapsed: Duration) -> Option<u64> {
        if self.next_offset() <= elapsed {
            self.next += 1;
            Some(self.next - 1)
        } else {
            None
        }
    }
}

/// Chooses each iteration's class in proportion to the classes' weights, evenly spread
/// (smooth weighted round robin): with weights 3 and 1, every run of four iterations has
/// three of the first class, and the mix is exact from the start rather than on average.
#[derive(Debug, Clone)]
pub struct ClassMix {
    weights: Vec<f64>,
    current: Vec<f64>,
}

impl ClassMix {
    /// `None` when no class has a positive weight.
    pub fn new(weights: &[f64]) -> Option<Self> {
        let weights: Vec<f64> = weights
            .iter()
            .map(|w| if w.is_finite() && *w > 0.0 { *w } else { 0.0 })
            .collect();
        (weights.iter().sum::<f64>() > 0.0).then(|| ClassMix {
            current: vec![0.0; weights.len()],
            weights,
        })
    }

    /// The index of the next iteration's class.
    pub fn next_class(&mut self) -> usize {
        let total: f64 = self.weights.iter().sum();
        let mut best = 0;
        for (i, w) in self.weights.iter().enumerate() {
            self.current[i] += w;
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= total;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn due_times_follow_the_rate_from_the_start() {
        let s = RateSchedule::new(4.0, 1000.0).unwrap();
        let offsets: Vec<Duration> = (0..5).map(|k| s.offset(k)).collect();
        assert_eq!(offsets, [ms(0), ms(250), ms(500), ms(750), ms(1000)]);
        assert_eq!(s.scheduled_at(3), 1000.75);
        let third = RateSchedule::new(3.0, 0.0).unwrap();
        assert_eq!(third.offset(1), Duration::from_nanos(333_333_333));
        assert_eq!(third.offset(2), Duration::from_nanos(666_666_667));
        assert_eq!(third.offset(3), ms(1000));
        // A fractional rate: one every 2.5 s.
        let slow = RateSchedule::new(0.4, 0.0).unwrap();
        assert_eq!(slow.offset(2), ms(5000));
    }

    #[test]
    fn pop_due_takes_each_iteration_once_and_catches_up_after_a_stall() {
        let mut s = RateSchedule::new(4.0, 0.0).unwrap();
        let mut take = |elapsed| {
            let mut v = Vec::new();
            while let Some(k) = s.pop_due(elapsed) {
                v.push(k);
            }
            v
        };
        assert_eq!(take(ms(600)), [0, 1, 2]);
        assert_eq!(take(ms(600)), Vec::<u64>::new());
        assert_eq!(take(ms(749)), Vec::<u64>::new());
        assert_eq!(take(ms(750)), [3]);
        // A timer that woke 1.3 s late: everything due meanwhile, none skipped.
        assert_eq!(take(ms(2050)), [4, 5, 6, 7, 8]);
        assert_eq!(s.taken(), 9);
        assert_eq!(s.next_offset(), ms(2250));
    }

    #[test]
    fn a_retarget_continues_from_now_at_the_new_rate() {
        let mut s = RateSchedule::new(4.0, 100.0).unwrap();
        while s.pop_due(ms(1000)).is_some() {}
        assert_eq!(s.taken(), 5); // 0, 250, ..., 1000 ms
                                  // At 1.1 s, up to 10/s: the next is due 100 ms later, then every 100 ms.
        assert!(s.retarget(10.0, ms(1100)));
        assert_eq!(s.next_offset(), ms(1200));
        assert_eq!(s.offset(6), ms(1300));
        assert_eq!(s.scheduled_at(6), 101.3);
        let mut taken = 0;
        while s.pop_due(ms(2100)).is_some() {
            taken += 1;
        }
        assert_eq!(taken, 10, "1.2 s to 2.1 s at 10/s");
        // Down to 1/s at 2.15 s: the next stays where it was (2.2 s), then one a second.
        assert!(s.retarget(1.0, ms(2150)));
        assert_eq!(s.next_offset(), ms(2200));
        assert_eq!(s.offset(s.taken() + 1), ms(3200));
        assert!(!s.retarget(0.0, ms(3000)));
        assert_eq!(s.rate(), 1.0);
    }

    #[test]
    fn bad_rates_are_refused() {
        for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(RateSchedule::new(r, 0.0).is_none(), "{r}");
        }
    }

    #[test]
    fn the_class_mix_follows_the_weights_exactly_and_evenly() {
        let mut m = ClassMix::new(&[3.0, 1.0]).unwrap();
        let picks: Vec<usize> = (0..8).map(|_| m.next_class()).collect();
        assert_eq!(picks, [0, 0, 1, 0, 0, 0, 1, 0]);
        let mut m = ClassMix::new(&[1.0, 1.0, 2.0]).unwrap();
        let picks: Vec<usize> = (0..4).map(|_| m.next_class()).collect();
        let count = |c| picks.iter().filter(|&&p| p == c).count();
        assert_eq!((count(0), count(1), count(2)), (1, 1, 2));
        // A zero weight never runs.
        let mut m = ClassMix::new(&[0.0, 5.0]).unwrap();
        assert!((0..10).all(|_| m.next_class() == 1));
        assert!(ClassMix::new(&[0.0]).is_none());
        assert!(ClassMix::new(&[]).is_none());
    }
}
