// Test code: unwrap/indexing/panic are how a test fails.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;

/// RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text
/// (each also checked against JavaScript's `JSON.stringify` in Node).
const NUMBERS: &[(u64, &str)] = &[
    (0x0000_0000_0000_0000, "0"),
    (0x8000_0000_0000_0000, "0"),
    (0x0000_0000_0000_0001, "5e-324"),
    (0x8000_0000_0000_0001, "-5e-324"),
    (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
    (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
    (0x4340_0000_0000_0000, "9007199254740992"),
    (0xc340_0000_0000_0000, "-9007199254740992"),
    (0x4430_0000_0000_0000, "295147905179352830000"),
    (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
    (0x44b5_2d02_c7e1_4af6, "1e+23"),
    (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
    (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
    (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
    (0x444b_1ae4_d6e2_ef50, "1e+21"),
    (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
    (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
    (0x41b3_de43_5555_5553, "333333333.3333332"),
    (0x41b3_de43_5555_5554, "333333333.33333325"),
    (0x41b3_de43_5555_5555, "333333333.3333333"),
    (0x41b3_de43_5555_5556, "333333333.3333334"),
    (0x41b3_de43_5555_5557, "333333333.33333343"),
    (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
    (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
];

#[test]
fn rfc8785_appendix_b_numbers() {
    for (bits, want) in NUMBERS {
        let got = to_canonical(&f64::from_bits(*bits)).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), *want, "{bits:016x}");
    }
    // NaN and infinities have no JSON form.
    assert!(to_canonical(&f64::NAN).is_err());
    assert!(to_canonical(&f64::INFINITY).is_err());
    assert_eq!(NUMBERS.len(), 24, "number vectors");
}

/// RFC 8785 §3.2.2 (the sample input and its canonical output) and §3.2.3
/// (member sorting by UTF-16 code units, where U+1F600 sorts before U+FB33).
#[test]
fn rfc8785_sections_3_2_2_and_3_2_3() {
    let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
    let v: serde_json::Value = serde_json::from_str(input).unwrap();
    assert_eq!(
        String::from_utf8(to_canonical(&v).unwrap()).unwrap(),
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
         \"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
    );
    let input = r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"}"#;
    let v: serde_json::Value = serde_json::from_str(input).unwrap();
    let out = String::from_utf8(to_canonical(&v).unwrap()).unwrap();
    let order: Vec<&str> = ["\\r", "1", "\u{80}", "ö", "€", "😀", "\u{fb33}"].to_vec();
    let mut at = 0;
    for key in order {
        let pos = out[at..]
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} in {out}"));
        at += pos + 1;
    }
}

/// What the issue found: the Rust writer rewrote `2.50` and `1e3`
/// differently from a JavaScript writer, and sorted keys differently.
#[test]
fn settings_keep_ecmascript_numbers_and_utf16_key_order() {
    let v: serde_json::Value =
        serde_json::from_str(r#"{"z": 2.50, "a": 1e3, "\ud83d\ude00": 1, "\uff61": 2, "n": -0.0}"#)
            .unwrap();
    assert_eq!(
        String::from_utf8(to_canonical(&v).unwrap()).unwrap(),
        "{\"a\":1000,\"n\":0,\"z\":2.5,\"😀\":1,\"\u{ff61}\":2}"
    );
}

#[test]
fn readers_refuse_non_canonical_text() {
    let ok: serde_json::Value = from_canonical(br#"{"a":[1,2.5,"x"],"b":null}"#, "t").unwrap();
    assert_eq!(ok["a"][1], 2.5);
    for bad in [
        &br#"{"b":null,"a":[1,2.5,"x"]}"#[..], // member order
        br#"{"a":[1,2.50,"x"],"b":null}"#,     // number form
        br#"{"a":[1,2.5,"x"], "b":null}"#,     // whitespace
        br#"{"a":[1,2.5,"\u0078"],"b":null}"#, // needless escape
        br#"{"a":[1e0,2.5,"x"],"b":null}"#,    // exponent
    ] {
        assert!(
            from_canonical::<serde_json::Value>(bad, "t").is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn exactness_of_numbers() {
    let v: serde_json::Value =
        serde_json::from_str(r#"[9007199254740991, -9007199254740991, 0.1]"#).unwrap();
    assert!(numbers_are_exact(&v));
    for big in [
        "9007199254740992",
        "-9007199254740993",
        "18446744073709551615",
    ] {
        let v: serde_json::Value = serde_json::from_str(&format!("{{\"seed\":{big}}}")).unwrap();
        assert!(!numbers_are_exact(&v), "{big}");
    }
}
