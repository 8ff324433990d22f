//! What commands read besides the vault: a body (`--body`, `--file`,
//! standard input), settings JSON, and export files for `import`.

use std::io::{IsTerminal, Read};
use std::path::Path;

use promptvault::format::{EXPORT_HEADER_BODY_LEN, HEADER_LEN, MAX_RECORD_LEN};
use promptvault::model::MAX_BODY_LEN;

use crate::cli::BodyArgs;
use crate::fail::{Fail, Kind};
use crate::files;

/// The largest export file `import` reads: a header and one payload record.
const MAX_EXPORT_FILE_LEN: u64 = (2 * HEADER_LEN + EXPORT_HEADER_BODY_LEN + MAX_RECORD_LEN) as u64;

/// The body from `--body`, `--file` or (when `stdin_if_piped` and it is
/// not a terminal) standard input; `None` if none was given.
///
/// # Errors
///
/// Invalid for a file that is not regular, over the body limit, or not
/// UTF-8; Io if it cannot be read.
pub(crate) fn read_body(args: &BodyArgs, stdin_if_piped: bool) -> Result<Option<String>, Fail> {
    if let Some(b) = &args.body {
        return Ok(Some(b.clone()));
    }
    let limit = MAX_BODY_LEN as u64;
    let from_stdin = match &args.file {
        Some(f) if f.as_os_str() == "-" => true,
        Some(f) => {
            let bytes = files::read_regular(f, limit)
                .map_err(|e| e.into_fail(f, "a prompt body", limit, Kind::Invalid))?;
            return String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Fail::invalid(format!("{} is not UTF-8 text", f.display())));
        }
        None => stdin_if_piped && !std::io::stdin().is_terminal(),
    };
    if !from_stdin {
        return Ok(None);
    }
    let mut s = String::new();
    std::io::stdin()
        .take(limit + 1)
        .read_to_string(&mut s)
        .map_err(|e| Fail::new(Kind::Io, format!("reading standard input: {e}")))?;
    Ok(Some(s))
}

/// `--settings` parsed as JSON.
///
/// # Errors
///
/// Invalid if it is not JSON.
pub(crate) fn parse_settings(s: Option<&String>) -> Result<Option<serde_json::Value>, Fail> {
    s.map(|s| {
        serde_json::from_str(s).map_err(|e| Fail::invalid(format!("--settings is not JSON: {e}")))
    })
    .transpose()
}

/// The bytes of an export file, read with the export size bound.
///
/// # Errors
///
/// Invalid for a file that is not regular; Corrupt if it is larger than
/// any export can be; Io or NotFound otherwise.
pub(crate) fn read_export(file: &Path) -> Result<Vec<u8>, Fail> {
    files::read_regular(file, MAX_EXPORT_FILE_LEN)
        .map_err(|e| e.into_fail(file, "an export file", MAX_EXPORT_FILE_LEN, Kind::Corrupt))
}
