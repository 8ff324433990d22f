//! Interleaved timing for the comparisons.
//!
//! The machine is shared and noisy, so a pair is never timed as two separate
//! runs. Each round times a batch of ours and a batch of the anchor back to
//! back (alternating which goes first), and the reported ratio is the median
//! of the per-round ratios: a burst of load hits both sides of a round
//! alike and moves the ratio far less than either time.
//!
//! Time is the calling thread's CPU time (user + system,
//! `CLOCK_THREAD_CPUTIME_ID`), not wall time: on a machine where other jobs
//! take the cores, being descheduled does not count against either side,
//! while page faults and system calls made by the code still do.

use std::hint::black_box;
use std::time::Duration;

/// A point in the calling thread's CPU time.
#[derive(Clone, Copy, Debug)]
pub struct CpuInstant(Duration);

impl CpuInstant {
    /// Now, in this thread's CPU time.
    #[must_use]
    pub fn now() -> Self {
        CpuInstant(cpu_time::ThreadTime::try_now().map_or(Duration::ZERO, |t| t.as_duration()))
    }

    /// CPU time of this thread since `self`.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Self::now().0.saturating_sub(self.0)
    }
}

/// How long and how often to time a pair.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Rounds (each one batch of each side).
    pub rounds: usize,
    /// Target wall time of one batch.
    pub batch: Duration,
}

impl Plan {
    /// For operations of microseconds: 41 rounds of 10 ms batches.
    pub const MICRO: Plan = Plan {
        rounds: 41,
        batch: Duration::from_millis(10),
    };
    /// For operations of a good fraction of a second (the KDF): 9 rounds,
    /// one call per batch.
    pub const SLOW: Plan = Plan {
        rounds: 9,
        batch: Duration::ZERO,
    };
    /// A smoke run: 1 round, tiny batches (proves the code runs; no figure
    /// from it means anything).
    pub const SMOKE: Plan = Plan {
        rounds: 1,
        batch: Duration::from_millis(1),
    };
}

/// The outcome of one pair.
#[derive(Clone, Debug)]
pub struct Pair {
    /// Median time per call of ours, in nanoseconds.
    pub ours_ns: f64,
    /// Median time per call of the anchor, in nanoseconds.
    pub anchor_ns: f64,
    /// Median of the per-round ratios ours ÷ anchor.
    pub ratio: f64,
    /// Lowest and highest per-round ratio.
    pub spread: (f64, f64),
    /// Rounds timed.
    pub rounds: usize,
}

/// The median of `v` (NaN when empty).
#[must_use]
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    let hi = s.get(n / 2).copied().unwrap_or(f64::NAN);
    if n % 2 == 1 {
        hi
    } else {
        let lo = s.get(n / 2 - 1).copied().unwrap_or(f64::NAN);
        (lo + hi) / 2.0
    }
}

fn time_batch<T>(f: &mut dyn FnMut() -> T, iters: u64) -> f64 {
    let start = CpuInstant::now();
    for _ in 0..iters {
        black_box(f());
    }
    let ns = start.elapsed().as_nanos() as f64;
    ns / iters as f64
}

fn iters_for<T>(f: &mut dyn FnMut() -> T, batch: Duration) -> u64 {
    if batch.is_zero() {
        return 1;
    }
    // Warm up and estimate with a growing probe.
    let mut n = 1u64;
    loop {
        let start = CpuInstant::now();
        for _ in 0..n {
            black_box(f());
        }
        let took = start.elapsed();
        if took >= batch / 8 || n >= 1 << 24 {
            // Scale the probe count by how far it fell short of the batch.
            let scale = batch.as_nanos() / took.as_nanos().max(1);
            let scaled = u128::from(n).saturating_mul(scale.max(1));
            return u64::try_from(scaled).unwrap_or(u64::MAX).max(1);
        }
        n *= 2;
    }
}

/// Times `ours` against `anchor`, interleaved, per `plan`.
pub fn pair<A, B>(plan: Plan, ours: &mut dyn FnMut() -> A, anchor: &mut dyn FnMut() -> B) -> Pair {
    let n_ours = iters_for(ours, plan.batch);
    let n_anchor = iters_for(anchor, plan.batch);
    let mut o = Vec::with_capacity(plan.rounds);
    let mut a = Vec::with_capacity(plan.rounds);
    let mut r = Vec::with_capacity(plan.rounds);
    for round in 0..plan.rounds.max(1) {
        let (to, ta) = if round % 2 == 0 {
            let to = time_batch(ours, n_ours);
            (to, time_batch(anchor, n_anchor))
        } else {
            let ta = time_batch(anchor, n_anchor);
            (time_batch(ours, n_ours), ta)
        };
        o.push(to);
        a.push(ta);
        r.push(to / ta);
    }
    summarize(&o, &a, &r)
}

/// Times `ours` against `anchor` when each call needs untimed setup: each
/// closure does its own setup and returns the time of the part that counts.
/// One call per side per round, alternating which goes first.
pub fn pair_timed(
    rounds: usize,
    ours: &mut dyn FnMut() -> Duration,
    anchor: &mut dyn FnMut() -> Duration,
) -> Pair {
    // One untimed warm-up call each (page faults, caches, lazy statics).
    black_box(ours());
    black_box(anchor());
    let mut o = Vec::with_capacity(rounds);
    let mut a = Vec::with_capacity(rounds);
    let mut r = Vec::with_capacity(rounds);
    for round in 0..rounds.max(1) {
        let (to, ta) = if round % 2 == 0 {
            let to = ours().as_nanos() as f64;
            (to, anchor().as_nanos() as f64)
        } else {
            let ta = anchor().as_nanos() as f64;
            (ours().as_nanos() as f64, ta)
        };
        o.push(to);
        a.push(ta);
        r.push(to / ta);
    }
    summarize(&o, &a, &r)
}

fn summarize(o: &[f64], a: &[f64], r: &[f64]) -> Pair {
    let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Pair {
        ours_ns: median(o),
        anchor_ns: median(a),
        ratio: median(r),
        spread: (lo, hi),
        rounds: r.len(),
    }
}

/// Formats nanoseconds for a table (ns, µs, ms or s).
#[must_use]
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}
