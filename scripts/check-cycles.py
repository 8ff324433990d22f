#!/usr/bin/env python3
"""Fails if the modules of a folder import each other in a cycle (issue 13).

    python3 scripts/check-cycles.py DIR [DIR...]

For each DIR (default: core/src/vault and ffi/src), every `.rs` file is a
node. File A depends on file B when A names B as a path segment
(`super::b::`, `crate::b::`, `crate::vault::b::`) or imports by `use` an
item that B defines at its top level. The folder's hub (`mod.rs` or
`lib.rs`) declares and re-exports its children: its `mod` and `pub use`
lines are not dependencies. `#[cfg(test)]` test files (`tests.rs`) are
left out. Prints each cycle and exits 1, or prints "no import cycle".
"""

import re
import sys
from pathlib import Path

DEF = re.compile(
    r"^(?:pub(?:\([a-z]+\))?\s+)?(?:unsafe\s+)?(?:extern\s+\"C\"\s+)?"
    r"(?:fn|struct|enum|const|static|type|trait|union)\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.M,
)
USE = re.compile(r"^\s*(pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);", re.M)


def leaves(tree: str):
    """Names a `use` tree brings in (the last segment of each path)."""
    tree = re.sub(r"\s+", "", tree)
    out = []
    for part in re.split(r"[{},]", tree):
        if part:
            out.append(part.split("::")[-1].split(" as ")[0])
    return out


def graph(folder: Path):
    files = {
        p.stem: p.read_text()
        for p in sorted(folder.glob("*.rs"))
        if p.stem != "tests"
    }
    hub = "mod" if "mod" in files else "lib"
    defined = {name: set(DEF.findall(text)) for name, text in files.items()}
    edges = {name: set() for name in files}
    for a, text in files.items():
        # Drop the file's own test module.
        text = text.split("#[cfg(test)]\nmod tests {")[0]
        for m in USE.finditer(text):
            if a == hub and m.group(1):
                continue  # a re-export
            tree = m.group(2)
            first = tree.split("::")[0].strip()
            if not (first in ("super", "crate", "self") or (a == hub and first in files)):
                continue
            for seg in re.findall(r"\b([a-z_][a-z0-9_]*)::", tree):
                if seg in files and seg != a:
                    edges[a].add(seg)
            for leaf in leaves(tree):
                if leaf in files and leaf != a:
                    edges[a].add(leaf)
                for b, names in defined.items():
                    if b != a and leaf in names:
                        edges[a].add(b)
        body = USE.sub("", text)
        # The hub names its children bare (`prompts::f`).
        pre = r"(?:super::|crate::|crate::vault::|(?<![:\w]))" if a == hub else r"(?:super|crate|crate::vault)::"
        for seg in re.findall(pre + r"([a-z_][a-z0-9_]*)::", body):
            if seg in files and seg != a:
                edges[a].add(seg)
    return edges


def cycles(edges):
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    return found


def main():
    root = Path(__file__).resolve().parent.parent
    dirs = sys.argv[1:] or ["core/src/vault", "ffi/src"]
    bad = False
    for d in dirs:
        for c in cycles(graph(root / d)):
            bad = True
            print(f"{d}: import cycle: {' -> '.join(c)}")
    if bad:
        sys.exit(1)
    print(f"no import cycle in {', '.join(dirs)}")


if __name__ == "__main__":
    main()
