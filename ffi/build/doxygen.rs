//! Turns the Rust doc comments cbindgen copies into the header into what C
//! tools read (Doxygen), in one place, so the Rust sources keep rustdoc
//! syntax:
//!
//! - the first paragraph of a comment becomes its `@brief`;
//! - intra-doc links lose their link syntax: ``[`crate::pv_x`]`` becomes
//!   `pv_x()` for a function of the header (which Doxygen links), `#NAME`
//!   for a constant, the bare name otherwise;
//! - a `# Errors` heading of a function returning `pv_result` becomes its
//!   `@return` (`PV_RESULT_OK` on success, else the errors listed); every
//!   other heading (`# Safety`, `# Security`, …) becomes `@par`.
//!
//! Comments whose first line is already a Doxygen command (the file
//! comment, the macros written by build.rs) are left as they are.
//! Used by build.rs and, through `#[path]`, by `tests/emitted.rs`.

use std::collections::BTreeSet;

/// Rewrites every `/** … */` comment of `header` (cbindgen's `doxy`
/// style: ` * ` before each line).
pub(crate) fn convert(header: &str) -> String {
    let functions = function_names(header);
    let lines: Vec<&str> = header.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut rest = lines.as_slice();
    while let Some((&line, after)) = rest.split_first() {
        rest = after;
        out.push(line.to_owned());
        if line.trim_start() != "/**" {
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let body_len = rest
            .iter()
            .position(|l| l.trim_start() == "*/")
            .unwrap_or(rest.len());
        let (comment, after) = rest.split_at(body_len);
        let body: Vec<String> = comment
            .iter()
            .map(|l| {
                let text = l.trim_start();
                let text = text.strip_prefix('*').unwrap_or(text);
                text.strip_prefix(' ').unwrap_or(text).to_owned()
            })
            .collect();
        // What the comment documents, up to its first `(` (the attribute
        // macro may stand on a line of its own); `after` starts at `*/`.
        let mut declaration = String::new();
        for l in after.iter().skip(1).take(3) {
            declaration.push_str(l);
            declaration.push(' ');
            if l.contains('(') {
                break;
            }
        }
        let returns_result = declaration.contains("pv_result pv_");
        for text in convert_comment(&body, returns_result, &functions) {
            if text.is_empty() {
                out.push(format!("{indent} *"));
            } else {
                out.push(format!("{indent} * {text}"));
            }
        }
        rest = after;
    }
    let mut text = out.join("\n");
    if header.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The names of the functions the header declares (`pv_x(` outside
/// comments).
fn function_names(header: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let t = line.trim_start();
        if t.starts_with('*') || t.starts_with("/*") || t.starts_with("//") || t.starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("pv_") {
            let tail = &rest[at..];
            let len = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if tail[len..].starts_with('(') {
                names.insert(tail[..len].to_owned());
            }
            rest = &tail[len..];
        }
    }
    names
}

/// One comment's lines, converted.
fn convert_comment(
    body: &[String],
    returns_result: bool,
    functions: &BTreeSet<String>,
) -> Vec<String> {
    if body.first().is_some_and(|l| l.starts_with('@')) {
        return body.iter().map(|l| links(l, functions)).collect();
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut returned = false;
    let mut lines = body.iter().peekable();
    while let Some(raw) = lines.next() {
        let line = links(raw, functions);
        if let Some(title) = line.strip_prefix("# ") {
            // The paragraph under a heading belongs to it: drop the blank
            // line between them.
            while lines.next_if(|l| l.is_empty()).is_some() {}
            if title == "Errors" && returns_result {
                let first = lines
                    .next()
                    .map(|l| links(l, functions))
                    .unwrap_or_default();
                out.push(format!(
                    "@return `PV_RESULT_OK` on success, else {}",
                    lower_first(&first)
                ));
                returned = true;
            } else {
                out.push(format!("@par {title}"));
            }
        } else if out.is_empty() {
            out.push(format!("@brief {line}"));
        } else {
            out.push(line);
        }
    }
    if returns_result && !returned {
        out.push(String::new());
        out.push("@return `PV_RESULT_OK` on success, else an error code.".to_owned());
    }
    out
}

/// "As …" → "as …" (a sentence continued after "else"); code spans and
/// names stay as they are.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), Some(d)) if c.is_ascii_uppercase() && d.is_ascii_lowercase() => {
            format!("{}{}", c.to_ascii_lowercase(), &text[1..])
        }
        _ => text.to_owned(),
    }
}

/// Replaces every intra-doc link ``[`path`]`` (and ``[`path`](…)``) in a
/// line.
fn links(line: &str, functions: &BTreeSet<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("[`") {
        let Some(close) = rest[at..].find("`]") else {
            break;
        };
        out.push_str(&rest[..at]);
        let path = &rest[at + 2..at + close];
        let name = path.rsplit("::").next().unwrap_or(path);
        let name = name.trim_end_matches("()");
        if functions.contains(name) {
            out.push_str(name);
            out.push_str("()");
        } else if name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            out.push('#');
            out.push_str(name);
        } else {
            out.push_str(name);
        }
        rest = &rest[at + close + 2..];
        if rest.starts_with('(') {
            if let Some(end) = rest.find(')') {
                rest = &rest[end + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}
