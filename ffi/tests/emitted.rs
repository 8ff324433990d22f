//! The files emitted from core's one error table
//! (`promptvault::error_code_table!`, issue 13): `src/result.rs` must be
//! exactly what the table renders, and the committed header must carry
//! every code. `PV_BLESS=1 cargo test -p promptvault-ffi --test emitted`
//! rewrites `src/result.rs`.
#![allow(clippy::unwrap_used)]

use promptvault::ErrorCode;

/// Renders `result.rs` from core's one error table.
macro_rules! render_result_rs {
    ($( $(#[doc = $doc:literal])* $variant:ident = $number:literal, $name:literal, $message:literal; )*) => {{
        let mut out = String::from(RESULT_RS_HEAD);
        $(
            $( out.push_str(&format!("    ///{}\n", $doc)); )*
            out.push_str(&format!("    {} = {},\n", stringify!($variant), $number));
        )*
        out.push_str(RESULT_RS_MIDDLE);
        $( out.push_str(&format!("            ErrorCode::{0} => pv_result::{0},\n", stringify!($variant))); )*
        out.push_str(RESULT_RS_TAIL);
        out
    }};
}

const RESULT_RS_HEAD: &str = "\
//! `pv_result`, emitted from core's one error table
//! (`promptvault::error_code_table!`) by `ffi/tests/emitted.rs`: do not
//! edit by hand. After a change to the table, run `PV_BLESS=1 cargo test
//! -p promptvault-ffi --test emitted` and commit the file (cbindgen then
//! writes the header's enum).

use promptvault::ErrorCode;

/// The result of every call: `PV_RESULT_OK` (0) or an error code.
///
/// The numbers equal the core's `promptvault::ErrorCode` and are never
/// reused. Codes 100 and up describe misuse of the C ABI itself.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum pv_result {
";

const RESULT_RS_MIDDLE: &str = "\
}

impl pv_result {
    /// The C result for a core error code.
    pub fn from_code(code: ErrorCode) -> Self {
        match code {
";

const RESULT_RS_TAIL: &str =
    "            // Unreachable while this file is current (the test that emits
            // it fails otherwise): `ErrorCode` is non-exhaustive.
            _ => pv_result::Panic,
        }
    }
}
";

/// `result.rs` (and so the header's `pv_result`) is what core's table
/// emits; `PV_BLESS=1` rewrites it.
#[test]
fn result_rs_is_emitted_from_the_core_table() {
    let want = promptvault::error_code_table!(render_result_rs);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/result.rs");
    if std::env::var_os("PV_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    assert_eq!(
        include_str!("../src/result.rs"),
        want,
        "ffi/src/result.rs is stale: run PV_BLESS=1 cargo test -p promptvault-ffi --test emitted"
    );
}

/// The committed header carries every code of core's table.
#[test]
fn header_carries_every_code() {
    let header = include_str!("../include/promptvault.h");
    for code in ErrorCode::ALL {
        let line = format!("PV_RESULT_{} = {},", code.name(), code.as_u32());
        assert!(header.contains(&line), "the header lacks `{line}`");
    }
}
