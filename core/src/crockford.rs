//! Crockford's base32 alphabet, shared by the recovery key's text form
//! (SPEC §1.2) and fingerprints (SPEC §13.2).

/// The 32 symbols, in value order.
pub(crate) const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A character's value: case-insensitive, `O` read as `0`, `I` and `L`
/// as `1`; `None` for a character outside the alphabet.
pub(crate) fn decode_char(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    let b = u8::try_from(c).ok()?;
    ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|p| u8::try_from(p).ok())
}
