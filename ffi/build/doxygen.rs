//! Turns the Rust doc comments cbindgen copies into the header into what C
//! tools read (Doxygen), in one place, so the Rust sources keep rustdoc
//! syntax:
//!
//! - the first paragraph of a comment becomes its `@brief`;
//! - a `code span` that rustdoc lets cross a line break is joined onto one
//!   line (Doxygen's does not cross lines);
//! - intra-doc links lose their link syntax: ``[`crate::pv_x`]`` becomes
//!   `pv_x()` for a function of the header (which Doxygen links), `#NAME`
//!   for a constant, the bare name otherwise;
//! - a `# Errors` heading of a function returning `pv_result` becomes its
//!   `@return` (`PV_RESULT_OK` on success, else the errors listed), a
//!   `# Returns` heading `@return`; every other heading (`# Safety`,
//!   `# Security`, …) becomes `@par`;
//! - every parameter gets an `@param[in|out|in,out]` line: the text of the
//!   function's `# Parameters` list if it has one, else the convention's
//!   (`build/params.rs`).
//!
//! Comments whose first line is already a Doxygen command (the file
//! comment, the macros written by build.rs) are left as they are.
//! Used by build.rs and, through `#[path]`, by `tests/emitted.rs`.

use std::collections::BTreeSet;

#[path = "params.rs"]
mod params;

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
        let body = join_code_spans(comment.iter().map(|l| {
            let text = l.trim_start();
            let text = text.strip_prefix('*').unwrap_or(text);
            text.strip_prefix(' ').unwrap_or(text)
        }));
        // What the comment documents, up to the end of its declaration;
        // `after` starts at `*/`.
        let mut declaration = String::new();
        for l in after.iter().skip(1) {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') || t.starts_with("/*") {
                break;
            }
            declaration.push_str(l);
            declaration.push(' ');
            if l.contains(';') || l.contains('{') {
                break;
            }
        }
        let decl = Declaration::parse(&declaration);
        for text in convert_comment(&body, &decl, &functions) {
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

/// The comment's lines, a line that leaves a `code span` open joined with
/// the next (rustdoc's Markdown lets a span cross lines, Doxygen's does
/// not).
fn join_code_spans<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for line in lines {
        match out.last_mut() {
            Some(last) if open && !line.is_empty() => {
                last.push(' ');
                last.push_str(line);
            }
            _ => out.push(line.to_owned()),
        }
        if line.is_empty() {
            open = false;
        } else if line.matches('`').count() % 2 == 1 {
            open = !open;
        }
    }
    out
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

/// What a comment documents, as far as the conversion needs: whether it is
/// a function returning `pv_result`, and a function's parameters
/// (`(name, type)`).
#[derive(Debug, Default)]
struct Declaration {
    returns_result: bool,
    params: Vec<(String, String)>,
}

impl Declaration {
    fn parse(text: &str) -> Self {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let (Some(open), Some(close)) = (text.find('('), text.rfind(");")) else {
            return Declaration::default();
        };
        let head = &text[..open];
        if !head.contains(" pv_") && !head.starts_with("pv_") {
            return Declaration::default();
        }
        let params = text[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "void")
            .map(|p| {
                let name = p.rsplit([' ', '*']).next().unwrap_or(p);
                (name.to_owned(), p[..p.len() - name.len()].trim().to_owned())
            })
            .collect();
        Declaration {
            returns_result: head.ends_with(" pv_result") || head.contains("pv_result pv_"),
            params,
        }
    }
}

/// `@param` lines for every parameter: the function's own `# Parameters`
/// text, else the convention's ([`params::describe`]); none for a name
/// with neither (Doxygen then fails on the undocumented parameter).
fn param_lines(decl: &Declaration, own: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, ty) in &decl.params {
        let text = own
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
            .or_else(|| params::describe(name));
        let Some(text) = text else { continue };
        let pointer = ty.contains('*');
        let direction = if name == "buf" || (name.starts_with("out_") && pointer) {
            "[out]"
        } else if pointer && !ty.starts_with("const ") {
            "[in,out]"
        } else {
            "[in]"
        };
        out.push(format!("@param{direction} {name} {text}"));
    }
    out
}

/// The items of a `# Parameters` section (``- `name`: text``, continued on
/// indented lines) up to the next blank line.
fn own_params<'a>(
    lines: &mut std::iter::Peekable<impl Iterator<Item = &'a String>>,
) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = Vec::new();
    while let Some(line) = lines.next_if(|l| !l.is_empty()) {
        if let Some(item) = line.strip_prefix("- `") {
            if let Some((name, text)) = item.split_once("`: ") {
                items.push((name.to_owned(), text.to_owned()));
                continue;
            }
        }
        if let Some(last) = items.last_mut() {
            last.1.push(' ');
            last.1.push_str(line.trim());
        }
    }
    items
}

/// One comment's lines, converted.
fn convert_comment(
    body: &[String],
    decl: &Declaration,
    functions: &BTreeSet<String>,
) -> Vec<String> {
    if body.first().is_some_and(|l| l.starts_with('@')) {
        return body.iter().map(|l| links(l, functions)).collect();
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut own = Vec::new();
    // Where the `@param` lines go: before the first section.
    let mut sections_at = None;
    let mut returned = false;
    let mut lines = body.iter().peekable();
    while let Some(raw) = lines.next() {
        let line = links(raw, functions);
        let Some(title) = line.strip_prefix("# ") else {
            if out.is_empty() {
                out.push(format!("@brief {line}"));
            } else {
                out.push(line);
            }
            continue;
        };
        // The paragraph under a heading belongs to it: drop the blank
        // line between them.
        while lines.next_if(|l| l.is_empty()).is_some() {}
        if title == "Parameters" {
            own = own_params(&mut lines);
            // And the blank line after the list.
            while lines.next_if(|l| l.is_empty()).is_some() {}
            continue;
        }
        sections_at.get_or_insert(out.len());
        if title == "Errors" && decl.returns_result {
            let first = lines
                .next()
                .map(|l| links(l, functions))
                .unwrap_or_default();
            out.push(format!(
                "@return `PV_RESULT_OK` on success, else {}",
                lower_first(&first)
            ));
            returned = true;
        } else if title == "Returns" {
            let first = lines
                .next()
                .map(|l| links(l, functions))
                .unwrap_or_default();
            out.push(format!("@return {first}"));
        } else {
            out.push(format!("@par {title}"));
        }
    }
    if decl.returns_result && !returned {
        sections_at.get_or_insert(out.len());
        out.push("@return `PV_RESULT_OK` on success, else an error code.".to_owned());
        out.push(String::new());
    }
    let params = param_lines(decl, &own);
    if !params.is_empty() {
        let at = sections_at.unwrap_or(out.len());
        let mut block = Vec::with_capacity(params.len() + 1);
        if out.get(at.wrapping_sub(1)).is_some_and(|l| !l.is_empty()) {
            block.push(String::new());
        }
        block.extend(params);
        if at < out.len() {
            block.push(String::new());
        }
        out.splice(at..at, block);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
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
