//! WebAssembly bindings for promptvault (being built; see issue 4).
