#!/usr/bin/env python3
"""Writes fuzz seed corpora from the frozen vectors (core/tests/vectors and
core/tests/vectors-sharing)."""
import base64, json, pathlib, struct, sys

root = pathlib.Path(__file__).resolve().parent.parent
out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "fuzz" / "corpus"
vec = root / "core" / "tests" / "vectors"

def b64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def storage_key(rec):
    kind, gen = rec[5], struct.unpack_from("<I", rec, 8)[0]
    p, v = rec[28:44].hex(), rec[44:60].hex()
    # SPEC §5; kind 7 keeps its segment id in the version-id field.
    return {1: "h", 2: f"k.{p}.{gen}", 3: f"m.{p}", 4: f"v.{p}.{v}", 5: "xh", 6: "xp",
            7: f"i.{p}.{v}", 8: "c"}[kind]

seeds = {t: [] for t in ["record_parse", "header_unlock", "export_import", "vault_file_load", "merge_records", "ffi_inspect", "sync_pull", "share_parse"]}
for f in sorted(vec.glob("*.json")):
    case = json.loads(f.read_text())
    if case["type"] == "vault":
        header, records = b64(case["header"]), [b64(r) for r in case["records"]]
        seeds["header_unlock"].append(header)
        seeds["record_parse"] += [header] + records
        seeds["ffi_inspect"] += [header] + records
        ordered = sorted(records, key=storage_key)
        seeds["vault_file_load"].append(header + b"".join(ordered))
        seeds["merge_records"].append(b"".join(struct.pack("<H", len(r)) + r for r in records))
        if case["description"].startswith("two prompts"):
            # sync_pull: mode 0 (JSON pages, u16-prefixed) and mode 1 (mutated rows).
            def page(changes, cursor, more=False):
                j = json.dumps({"status": "changes", "changes": changes, "cursor": cursor, "more": more}).encode()
                return struct.pack("<H", len(j)) + j
            text = lambda r: base64.urlsafe_b64encode(r).rstrip(b"=").decode()
            rows = [{"key": storage_key(r), "seq": 2, "record": text(r)} for r in [header] + records]
            seeds["sync_pull"].append(b"\x00" + page([], 1))
            seeds["sync_pull"].append(b"\x00" + page(sorted(rows, key=lambda c: c["key"]), 2))
            seeds["sync_pull"].append(b"\x01" + bytes(range(64)))
    elif case["type"] == "export":
        seeds["export_import"].append(b64(case["file"]))
    elif case["type"] == "inspect":
        seeds["record_parse"].append(case["record"].encode())
        seeds["record_parse"].append(b64(case["record"]) if not case["record"].startswith("!") else b"")

for f in sorted((root / "core" / "tests" / "vectors-sharing").glob("*.json")):
    case = json.loads(f.read_text())
    for field in ("bundle", "delivery"):
        if isinstance(case.get(field), str):
            seeds["share_parse"].append(b64(case[field]))
    fp = case.get("expect", {}).get("fingerprint") if isinstance(case.get("expect"), dict) else None
    if isinstance(fp, str):
        seeds["share_parse"].append(fp.encode())

for target, items in seeds.items():
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(items):
        (d / f"seed-{i:03}").write_bytes(data)
    print(f"{target}: {len(items)} seeds")
