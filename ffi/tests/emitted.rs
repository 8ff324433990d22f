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
#[cfg_attr(
    miri,
    ignore = "text processing only (no unsafe code), slow under miri"
)]
fn header_carries_every_code() {
    let header = include_str!("../include/promptvault.h");
    for code in ErrorCode::ALL {
        let line = format!("PV_RESULT_{} = {},", code.name(), code.as_u32());
        assert!(header.contains(&line), "the header lacks `{line}`");
    }
}

#[path = "../build/doxygen.rs"]
#[allow(dead_code, unreachable_pub)]
mod doxygen;

const HEADER: &str = include_str!("../include/promptvault.h");

/// The header without its comments.
fn header_code() -> String {
    let mut out = String::new();
    let mut rest = HEADER;
    while let Some(at) = rest.find("/*") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find("*/").unwrap();
        rest = &rest[at + end + 2..];
    }
    out.push_str(rest);
    out.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every function declaration of the header, whitespace collapsed:
/// `(name, declaration)`.
fn declarations() -> Vec<(String, String)> {
    header_code()
        .split(';')
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|d| d.contains("pv_") && d.contains('(') && !d.contains('{') && !d.contains('}'))
        .map(|d| {
            let head = &d[..d.find('(').unwrap()];
            let name = head.rsplit([' ', '*']).next().unwrap().to_owned();
            (name, d)
        })
        .collect()
}

/// Every function returning `pv_result` carries `PV_MUST_USE` (a
/// `#[must_use]` forgotten on a new function fails here).
#[test]
#[cfg_attr(
    miri,
    ignore = "text processing only (no unsafe code), slow under miri"
)]
fn every_pv_result_function_is_must_use() {
    let decls = declarations();
    assert!(decls.len() > 80, "{} declarations found", decls.len());
    let mut results = 0;
    for (name, decl) in &decls {
        if decl.contains(&format!("pv_result {name}(")) {
            results += 1;
            assert!(
                decl.starts_with("PV_MUST_USE pv_result "),
                "{name} returns pv_result without PV_MUST_USE (add #[must_use]): {decl}"
            );
        } else if decl.starts_with("void ") {
            assert!(name.ends_with("_free"), "{name} returns nothing: {decl}");
        }
    }
    assert!(results > 80, "{results} functions return pv_result");
}

/// Every function that writes into a caller buffer (`size_t *out_len`
/// after a buffer) is in the C size-probe table of tests/c/test_ffi.c.
#[test]
#[cfg_attr(
    miri,
    ignore = "text processing only (no unsafe code), slow under miri"
)]
fn every_buffer_function_is_probed_from_c() {
    let c = include_str!("c/test_ffi.c");
    let mut n = 0;
    for (name, decl) in declarations() {
        if decl.contains("size_t buf_len, size_t *out_len)") {
            n += 1;
            assert!(
                c.contains(&format!("PROBE({name}, ")),
                "{name} writes into a caller buffer but has no PROBE row in tests/c/test_ffi.c"
            );
        }
    }
    assert!(n >= 30, "only {n} buffer functions found");
}

/// The header's version macros are Cargo's version.
#[test]
#[cfg_attr(
    miri,
    ignore = "text processing only (no unsafe code), slow under miri"
)]
fn version_macros_are_the_crate_version() {
    for (macro_name, value) in [
        ("PV_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("PV_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PV_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
        (
            "PV_VERSION_STRING",
            concat!("\"", env!("CARGO_PKG_VERSION"), "\""),
        ),
    ] {
        let line = format!("#define {macro_name} {value}\n");
        assert!(HEADER.contains(&line), "the header lacks `{line}`");
    }
}

/// `pv_version()` is Cargo's version, and the same static text each time.
#[test]
#[allow(unsafe_code)]
fn pv_version_is_the_crate_version() {
    assert_eq!(promptvault_ffi::pv_version(), promptvault_ffi::pv_version());
    // SAFETY: pv_version returns static NUL-terminated text.
    let v = unsafe { std::ffi::CStr::from_ptr(promptvault_ffi::pv_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

/// What lands in the header is Doxygen, not rustdoc.
#[test]
#[cfg_attr(
    miri,
    ignore = "text processing only (no unsafe code), slow under miri"
)]
fn the_header_has_no_rust_doc_syntax_left() {
    for bad in [
        "[`",
        "`]",
        "# Safety",
        "# Errors",
        "# Security",
        "crate::",
        "```",
    ] {
        let hits: Vec<_> = HEADER.lines().filter(|l| l.contains(bad)).collect();
        assert!(hits.is_empty(), "the header still has {bad:?}: {hits:#?}");
    }
    assert!(HEADER.matches("@brief").count() > 150);
    assert!(HEADER.contains("@par Safety"));
}

/// One comment through `build/doxygen.rs`: brief, links, `@param` from the
/// conventions and from the function's own list, `@return` from
/// `# Errors`, `@par` for the rest.
#[test]
#[cfg_attr(
    miri,
    ignore = "text processing only (no unsafe code), slow under miri"
)]
fn doxygen_conversion_of_one_comment() {
    let header = "\
/**
 * Copies the bytes into `buf` ([`crate::pv_bytes_copy`], [`PV_ID_BUF_LEN`],
 * [`pv_store`]).
 *
 * # Parameters
 *
 * - `bytes`: What to copy,
 *   all of it.
 *
 * # Errors
 *
 * As [`pv_bytes_copy`], or `PV_RESULT_NULL_PARAMETER`.
 *
 * # Safety
 *
 * `buf` must point to `buf_len` writable bytes.
 */
PV_MUST_USE
pv_result pv_bytes_copy(const pv_bytes *bytes,
                        uint8_t *buf,
                        size_t buf_len,
                        size_t *out_len);

  /**
   * Not an error.
   */
  PV_RESULT_OK = 0,
";
    let want = "\
/**
 * @brief Copies the bytes into `buf` (pv_bytes_copy(), #PV_ID_BUF_LEN,
 * pv_store).
 *
 * @param[in] bytes What to copy, all of it.
 * @param[out] buf Where the output is written. NULL with `buf_len` 0 asks for the size needed.
 * @param[in] buf_len The capacity of `buf` in bytes.
 * @param[out] out_len Receives the number of bytes written (with the NUL for text), or the size needed.
 *
 * @return `PV_RESULT_OK` on success, else as pv_bytes_copy(), or `PV_RESULT_NULL_PARAMETER`.
 *
 * @par Safety
 * `buf` must point to `buf_len` writable bytes.
 */
PV_MUST_USE
pv_result pv_bytes_copy(const pv_bytes *bytes,
                        uint8_t *buf,
                        size_t buf_len,
                        size_t *out_len);

  /**
   * @brief Not an error.
   */
  PV_RESULT_OK = 0,
";
    assert_eq!(doxygen::convert(header), want);
}

/// Every parameter of every function has an `@param` line in the comment
/// above it (a new parameter name needs a convention in `build/params.rs`
/// or a `# Parameters` item in its Rust docs).
#[test]
#[cfg_attr(
    miri,
    ignore = "text processing only (no unsafe code), slow under miri"
)]
fn every_parameter_is_documented() {
    let mut checked = 0;
    let mut comment = String::new();
    let mut decl = String::new();
    for line in HEADER.lines() {
        let t = line.trim_start();
        if t == "/**" {
            comment.clear();
            decl.clear();
        }
        if t.starts_with('*') || t.starts_with("/**") {
            comment.push_str(t);
            comment.push('\n');
            continue;
        }
        decl.push_str(t);
        decl.push(' ');
        if !t.contains(';') {
            continue;
        }
        if let (Some(open), Some(close)) = (decl.find('('), decl.rfind(')')) {
            if decl[..open].contains("pv_") && open < close {
                for p in decl[open + 1..close].split(',').map(str::trim) {
                    if p.is_empty() || p == "void" {
                        continue;
                    }
                    let name = p.rsplit([' ', '*']).next().unwrap();
                    let tag = format!("] {name} ");
                    assert!(
                        comment
                            .lines()
                            .any(|l| l.starts_with("* @param") && l.contains(&tag)),
                        "no @param for `{name}` above `{decl}`"
                    );
                    checked += 1;
                }
            }
        }
        decl.clear();
    }
    assert!(checked > 250, "only {checked} parameters checked");
}
