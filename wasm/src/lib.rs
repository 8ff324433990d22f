//! WebAssembly bindings for [`promptvault`]: the `promptvault` npm package.
//!
//! Thin by design: every function converts its arguments, calls the core,
//! and converts the result back. No logic of its own, no panic path (no
//! `unwrap`, no indexing): every failure is a thrown JS `Error` whose `code`
//! is the stable [`promptvault::ErrorCode`] number, and the instance keeps
//! working after it. See `README.md` for the JS API and the browser shape.

mod convert;
mod error;
mod inspect;
mod sync;
mod types;
mod vault;

pub use error::{ERROR_NAME, ErrorCode, error_code_name, is_promptvault_error};
pub use inspect::{inspect, validate_for_store};
pub use sync::{
    Download, LoginKey, Store, SyncRun, SyncState, challenge_request, prelogin_request,
    read_session,
};
pub use types::*;
pub use vault::Vault;
