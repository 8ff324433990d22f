//! `compare`: ours against the anchors, side by side in one process,
//! interleaved, printed as ratios (ours ÷ anchor, median of per-round
//! ratios). A report, not a test: nothing here fails on a time.
//!
//! ```text
//! cargo run -p promptvault-benches --release --bin compare -- [--smoke] [record] [argon2] [open] [memory]
//! ```
//!
//! With no item, every item runs. `--smoke` runs each once on tiny inputs
//! (for the test script: it proves the code runs; its figures mean nothing).
//! The WASM items (Argon2id and records under Node) are run by
//! `scripts/compare.sh`, which also runs this.
// The binary's job is to print a report; setup failures abort it with a message.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use promptvault::{Credential, KdfParams, Vault};
use promptvault_benches::alloc::PeakAlloc;
use promptvault_benches::anchors::{LibArgon2, RawAesGcm, RingAesGcm, argon2_crate};
use promptvault_benches::fixture::{self, PlainVault};
use promptvault_benches::measure::{self, CpuInstant, Pair, Plan, fmt_ns};
use promptvault_benches::record::RecordBench;
use promptvault_benches::{BoxResult, corpus};

#[global_allocator]
static GLOBAL: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;
/// Reads the counters of `GLOBAL`.
static ALLOC: PeakAlloc = PeakAlloc::new();

struct Row {
    measure: String,
    ours: String,
    anchor: String,
    ratio: f64,
    spread: (f64, f64),
    target: Option<f64>,
}

impl Row {
    fn time(measure: &str, p: &Pair, target: Option<f64>) -> Row {
        Row {
            measure: measure.to_owned(),
            ours: fmt_ns(p.ours_ns),
            anchor: fmt_ns(p.anchor_ns),
            ratio: p.ratio,
            spread: p.spread,
            target,
        }
    }

    fn print(&self, smoke: bool) {
        let verdict = match self.target {
            _ if smoke => "smoke".to_owned(),
            Some(t) if self.ratio <= t => format!("≤ {t:.2} met"),
            Some(t) => format!("≤ {t:.2} MISSED"),
            None => "—".to_owned(),
        };
        println!(
            "| {} | {} | {} | **{:.2}** | {:.2}–{:.2} | {} |",
            self.measure, self.ours, self.anchor, self.ratio, self.spread.0, self.spread.1, verdict
        );
    }
}

struct Opts {
    smoke: bool,
}

fn main() -> BoxResult<()> {
    let mut smoke = false;
    let mut items: Vec<String> = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--smoke" => smoke = true,
            "record" | "argon2" | "open" | "memory" => items.push(a),
            "-h" | "--help" => {
                println!(
                    "usage: compare [--smoke] [record] [argon2] [open] [memory]\n\
                     Prints ours ÷ anchor ratios (median of interleaved rounds)."
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if items.is_empty() {
        items = ["record", "argon2", "open", "memory"]
            .map(str::to_owned)
            .to_vec();
    }
    let opts = Opts { smoke };
    machine();
    if smoke {
        println!("\nSMOKE RUN: one tiny round each; these figures mean nothing.");
    }
    println!("\n| measure | ours | anchor | ours ÷ anchor | per-round range | target |");
    println!("|---|---|---|---|---|---|");
    for item in &items {
        match item.as_str() {
            "record" => record(&opts)?,
            "argon2" => argon2(&opts)?,
            "open" => open(&opts)?,
            "memory" => memory(&opts)?,
            _ => {}
        }
    }
    Ok(())
}

fn machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {cores} cores, {cpu}; load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Item 1: a 1 KiB record: our seal vs a raw AES-256-GCM seal of the same bytes.
fn record(o: &Opts) -> BoxResult<()> {
    let plan = if o.smoke { Plan::SMOKE } else { Plan::MICRO };
    let f = fixture::standard(2)?;
    let template = f
        .records
        .iter()
        .find(|r| r.get(5) == Some(&4))
        .ok_or("no version record in the fixture")?;
    {
        let size = 1024usize;
        let payload = corpus::payload(size);
        let rb = RecordBench::new(template, size)?;
        let raw = RawAesGcm::new(rb.key().expose_secret());
        let ring = RingAesGcm::new(rb.key().expose_secret())?;
        let p = measure::pair(
            plan,
            &mut || rb.seal(black_box(&payload)).expect("seal"),
            &mut || raw.seal(black_box(&payload)).expect("raw seal"),
        );
        Row::time("record seal 1 KiB vs raw aes-gcm seal", &p, Some(1.25)).print(o.smoke);
        let p = measure::pair(
            plan,
            &mut || rb.seal(black_box(&payload)).expect("seal"),
            &mut || ring.seal(black_box(&payload)).expect("ring seal"),
        );
        Row::time("record seal 1 KiB vs ring AES-256-GCM seal", &p, None).print(o.smoke);
        let key = *rb.key().expose_secret();
        let p = measure::pair(
            plan,
            &mut || RawAesGcm::seal_with_fresh_key(&key, black_box(&payload)).expect("seal"),
            &mut || raw.seal(black_box(&payload)).expect("raw seal"),
        );
        Row::time(
            "breakdown: raw aes-gcm seal 1 KiB, key expanded per call vs key expanded once",
            &p,
            None,
        )
        .print(o.smoke);
        // The seal must write a record the core's own open path accepts.
        if rb.parse_and_open(rb.seal(&payload)?)?.as_slice() != payload.as_slice() {
            return Err("the record seal does not round-trip".into());
        }
        let sealed = rb.seal(&payload)?;
        let raw_sealed = raw.seal(&payload)?;
        let p = measure::pair(
            plan,
            &mut || rb.parse_and_open(black_box(sealed.clone())).expect("open"),
            &mut || raw.open(black_box(&raw_sealed)).expect("raw open"),
        );
        Row::time("record parse+open 1 KiB vs raw aes-gcm open", &p, None).print(o.smoke);
    }
    Ok(())
}

/// Item 2: Argon2id through our API vs the reference C Argon2.
fn argon2(o: &Opts) -> BoxResult<()> {
    let lib = LibArgon2::load()?;
    let pw = fixture::password()?;
    let salt = [0x5au8; 16];

    let sets: &[(u32, u32, &str)] = &[
        (64 * 1024, 3, "64 MiB, t=3, p=1"),
        (19 * 1024, 2, "19 MiB, t=2, p=1"),
    ];
    for &(m, t, label) in sets {
        // A 19 MiB run is ~20 ms, much of it page faults whose cost follows
        // the box's memory traffic: give it more rounds.
        let rounds = match (o.smoke, m) {
            (true, _) => 1,
            (false, m) if m < 32 * 1024 => 3 * Plan::SLOW.rounds,
            _ => Plan::SLOW.rounds,
        };
        let params = KdfParams::new(m, t, 1)?;
        let header = Vault::create(&pw, params)?.vault.header_bytes().to_vec();
        let none: [&[u8]; 0] = [];
        // Ours: the public unlock, which is the KDF plus one 32-byte unwrap.
        let mut ours = || {
            let t0 = CpuInstant::now();
            let v = Vault::open(&header, none, Credential::Password(&pw)).expect("unlock");
            let d = t0.elapsed();
            drop(black_box(v));
            d
        };
        let mut c_ref = || {
            let mut out = [0u8; 32];
            let t0 = CpuInstant::now();
            lib.hash(fixture::PASSWORD.as_bytes(), &salt, m, t, 1, &mut out)
                .expect("reference argon2");
            let d = t0.elapsed();
            black_box(out);
            d
        };
        let p = measure::pair_timed(rounds, &mut ours, &mut c_ref);
        Row::time(
            &format!("Argon2id {label}: vault unlock vs reference C Argon2"),
            &p,
            Some(0.90),
        )
        .print(o.smoke);
        let mut bare = || {
            let mut out = [0u8; 32];
            let t0 = CpuInstant::now();
            argon2_crate(fixture::PASSWORD.as_bytes(), &salt, m, t, 1, &mut out).expect("argon2");
            let d = t0.elapsed();
            black_box(out);
            d
        };
        let p = measure::pair_timed(rounds, &mut bare, &mut c_ref);
        Row::time(
            &format!("Argon2id {label}: bare argon2 crate vs reference C Argon2"),
            &p,
            None,
        )
        .print(o.smoke);
    }
    println!("<!-- reference argon2: {} -->", lib.path);
    Ok(())
}

/// Item 5: opening a 10k-prompt vault (KDF excluded) vs parsing the same
/// prompts as plaintext JSON.
fn open(o: &Opts) -> BoxResult<()> {
    let n = if o.smoke { 200 } else { 10_000 };
    let rounds = if o.smoke { 1 } else { 9 };
    let f = fixture::standard(n)?;
    let pw = fixture::password()?;
    let twin = f.empty_twin()?;
    let mut merge = || {
        let mut v = twin.clone();
        let t0 = CpuInstant::now();
        let r = v.merge(f.records.iter()).expect("merge");
        let d = t0.elapsed();
        black_box((v.len(), r));
        d
    };
    let mut parse = || {
        let t0 = CpuInstant::now();
        let p: PlainVault = serde_json::from_slice(&f.plaintext).expect("parse");
        let d = t0.elapsed();
        drop(black_box(p));
        d
    };
    let mut open_min = || {
        let t0 = CpuInstant::now();
        let v = Vault::open(&f.header, f.records.iter(), Credential::Password(&pw)).expect("open");
        let d = t0.elapsed();
        drop(black_box(v));
        d
    };
    let p = measure::pair_timed(rounds, &mut open_min, &mut parse);
    Row::time(
        &format!(
            "Vault::open {n} prompts ×3 versions (KDF included, at the minimum 19 MiB/t=1) vs serde_json parse of the same prompts as plaintext"
        ),
        &p,
        Some(2.0),
    )
    .print(o.smoke);
    let p = measure::pair_timed(rounds, &mut merge, &mut parse);
    Row::time(
        "Vault::merge of the same records into an unlocked empty twin (no KDF; builds the merge changeset) vs serde_json parse",
        &p,
        None,
    )
    .print(o.smoke);
    println!(
        "<!-- {n} prompts: plaintext JSON {} bytes, stored records {} bytes -->",
        f.plaintext.len(),
        f.stored_len()
    );
    Ok(())
}

/// Item 6: peak heap while opening a 100k-prompt vault vs the plaintext size.
fn memory(o: &Opts) -> BoxResult<()> {
    let n = if o.smoke { 200 } else { 100_000 };
    let f = fixture::standard(n)?;
    let fixture::Fixture {
        vault,
        store,
        header,
        records,
        plaintext,
        ..
    } = f;
    drop(vault);
    drop(store);
    let plain_len = plaintext.len();
    let stored_len = header.len() + records.iter().map(Vec::len).sum::<usize>();
    let pw = fixture::password()?;

    let measure_peak =
        |f: &mut dyn FnMut() -> Box<dyn core::any::Any>| -> (usize, usize, Duration) {
            let before = ALLOC.live();
            ALLOC.reset_peak();
            let t0 = CpuInstant::now();
            let kept = f();
            let d = t0.elapsed();
            let peak = ALLOC.peak().saturating_sub(before);
            let retained = ALLOC.live().saturating_sub(before);
            drop(kept);
            (peak, retained, d)
        };

    let (open_peak, open_kept, open_t) = measure_peak(&mut || {
        Box::new(Vault::open(&header, records.iter(), Credential::Password(&pw)).expect("open"))
    });
    let (parse_peak, parse_kept, parse_t) = measure_peak(&mut || {
        Box::new(serde_json::from_slice::<PlainVault>(&plaintext).expect("parse"))
    });
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let ratio = |a: usize, b: usize| a as f64 / b as f64;
    println!(
        "| peak heap, open {n}-prompt vault (KDF 19 MiB work area included) ÷ plaintext JSON size | {:.1} MiB | {:.1} MiB | **{:.2}** | one run | — |",
        mib(open_peak),
        mib(plain_len),
        ratio(open_peak, plain_len)
    );
    println!(
        "| heap kept by the open vault ÷ plaintext JSON size | {:.1} MiB | {:.1} MiB | **{:.2}** | one run | — |",
        mib(open_kept),
        mib(plain_len),
        ratio(open_kept, plain_len)
    );
    println!(
        "| anchor: peak heap, serde_json parse of the plaintext ÷ plaintext size | {:.1} MiB | {:.1} MiB | **{:.2}** | one run | — |",
        mib(parse_peak),
        mib(plain_len),
        ratio(parse_peak, plain_len)
    );
    println!(
        "<!-- {n} prompts: plaintext {plain_len} B, stored {stored_len} B; open took {}, parse {}; parse kept {:.1} MiB -->",
        fmt_ns(open_t.as_nanos() as f64),
        fmt_ns(parse_t.as_nanos() as f64),
        mib(parse_kept)
    );
    Ok(())
}
