//! Live and peak heap bytes, for the memory comparison: the `peak_alloc`
//! crate's counting global allocator (a safe API, so the benches hold no
//! unsafe code). Install it in a binary with
//! `#[global_allocator] static A: PeakAlloc = PeakAlloc::new();`.

/// The system allocator, with a live-bytes counter and a resettable peak.
#[derive(Debug, Default, Clone, Copy)]
pub struct PeakAlloc(peak_alloc::PeakAlloc);

impl PeakAlloc {
    /// A counter.
    #[must_use]
    pub const fn new() -> Self {
        PeakAlloc(peak_alloc::PeakAlloc)
    }

    /// Live heap bytes now.
    #[must_use]
    pub fn live(&self) -> usize {
        self.0.current_usage()
    }

    /// Highest live heap bytes since the last [`PeakAlloc::reset_peak`].
    #[must_use]
    pub fn peak(&self) -> usize {
        self.0.peak_usage()
    }

    /// Restarts peak tracking from the current live bytes.
    pub fn reset_peak(&self) {
        self.0.reset_peak_usage();
    }
}
