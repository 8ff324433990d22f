//! Benchmarks for promptvault (being built; see issue 6).
