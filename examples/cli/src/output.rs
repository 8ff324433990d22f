//! Writing to standard output: lines, JSON, dates and short ids.

use std::io::Write;

use promptvault::Timestamp;

use crate::fail::{Fail, Kind};

/// Writes one line. A closed pipe (`promptvault list | head`) ends the
/// command quietly with exit 0, as other command-line tools do.
///
/// # Errors
///
/// [`Fail::broken_pipe`] for a closed pipe; Io for any other failure.
pub(crate) fn say(out: &mut impl Write, text: impl std::fmt::Display) -> Result<(), Fail> {
    writeln!(out, "{text}").map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Fail::broken_pipe()
        } else {
            Fail::new(Kind::Io, format!("writing output: {e}"))
        }
    })
}

/// Writes `value` as pretty JSON, with every character a terminal would
/// act on escaped (see [`crate::term::json`]).
///
/// # Errors
///
/// As [`say`].
pub(crate) fn json(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), Fail> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
    say(out, crate::term::json(&text))
}

/// `YYYY-MM-DD HH:MM` (UTC) from Unix milliseconds (civil-from-days, H. Hinnant).
pub(crate) fn fmt_time(t: Timestamp) -> String {
    let secs = t.0 / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The first 8 characters of a hex id.
pub(crate) fn short(hex: &str) -> &str {
    hex.get(..8).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(fmt_time(Timestamp(0)), "1970-01-01 00:00");
        assert_eq!(fmt_time(Timestamp(1_700_000_000_000)), "2023-11-14 22:13");
        assert_eq!(fmt_time(Timestamp(951_782_400_000)), "2000-02-29 00:00");
    }
}
