//! C ABI for promptvault (being built; see issue 5).
