//! Tag normalisation: NFC for the spelling kept, full Unicode case folding
//! for matching (so `Straße` matches `STRASSE`, and `İ`/`ı` fold as Unicode
//! says rather than as ASCII lowercasing would).
//!
//! Needs the `unlock` cargo feature (on by default).

use crate::error::{Error, Result};
use crate::model::MAX_TAG_CHARS;

/// Cleans a tag as the user typed it: trims, NFC-normalises and checks it.
///
/// # Errors
///
/// [`Error::InvalidInput`] for an empty tag or one with a control or
/// bidirectional-override character (see `SPEC.md` §6.3);
/// [`Error::LimitExceeded`] above [`MAX_TAG_CHARS`] characters.
pub fn normalize(tag: &str) -> Result<String> {
    if tag.len() > MAX_TAG_CHARS * 8 {
        return Err(Error::too_large(
            "tag length",
            MAX_TAG_CHARS,
            tag.chars().count(),
        ));
    }
    let spelled = crate::unicode::nfc(tag.trim());
    if spelled.is_empty() {
        return Err(Error::invalid("a tag is empty"));
    }
    if spelled.chars().any(crate::rules::forbidden_in_label) {
        return Err(Error::invalid(
            "a tag contains control or bidirectional-override characters",
        ));
    }
    let n = spelled.chars().count();
    if n > MAX_TAG_CHARS {
        return Err(Error::too_large("tag length", MAX_TAG_CHARS, n));
    }
    Ok(spelled)
}

/// The matching key of a tag: NFC(casefold(NFD(tag))).
#[must_use]
pub fn fold(tag: &str) -> String {
    crate::unicode::fold(tag.trim())
}

/// Case-insensitive text matching for search: the folded haystack contains the folded needle.
pub(crate) fn fold_text(text: &str) -> String {
    crate::unicode::fold(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_unicode_aware() {
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("Café"), fold("CAFE\u{301}"));
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), fold("σίσυφος"));
        assert_ne!(fold("ı"), fold("i"));
        assert_eq!(normalize("  Cafe\u{301} ").unwrap(), "Café");
        assert!(normalize("   ").is_err());
        assert!(normalize("a\nb").is_err());
        assert!(normalize("a\u{1b}]52;c;x\u{7}").is_err());
        assert!(normalize("a\u{202e}b").is_err());
        assert!(normalize(&"x".repeat(65)).is_err());
    }
}
