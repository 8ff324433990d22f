//! Shared pieces of the promptvault benchmarks: a deterministic prompt
//! corpus, vault fixtures built from it, the plaintext anchor, the record
//! seal/open path through the core's public format API, the reference C Argon2 and
//! ring anchors, an interleaved timer and a peak-tracking allocator.
//!
//! Nothing here asserts a time. The criterion benches (`benches/`) report
//! absolute figures; the `compare` binary reports ratios against anchors
//! measured in the same process, interleaved (see `BENCHMARKS.md`).

pub mod alloc;
pub mod anchors;
pub mod corpus;
pub mod fixture;
pub mod measure;
pub mod record;

/// Errors of the bench helpers (setup only; timed code never allocates one).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Result of the bench helpers.
pub type BoxResult<T> = Result<T, BoxError>;

/// Whether criterion runs in `--test` mode (each bench once, as the test
/// script does): fixtures are then capped at [`SMOKE_PROMPTS`] prompts so the
/// smoke run stays short. Bench ids keep their nominal size.
#[must_use]
pub fn smoke_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// Largest fixture built in `--test` mode.
pub const SMOKE_PROMPTS: usize = 300;

/// `n`, or at most [`SMOKE_PROMPTS`] in `--test` mode.
#[must_use]
pub fn fixture_size(n: usize) -> usize {
    if smoke_mode() {
        n.min(SMOKE_PROMPTS)
    } else {
        n
    }
}
