#!/usr/bin/env python3
"""The whole promptvault story from Python, through ctypes and the C ABI.

Run (from anywhere, after `cargo build -p promptvault-ffi` or
`scripts/install-ffi.sh`):

    python3 examples/python/story.py [path/to/libpromptvault.so]

The library is the first of: the argument; $PROMPTVAULT_LIB; an installed
one, through pkg-config (`pkg-config --variable=libdir promptvault`, which
honours $PKG_CONFIG_PATH) and then ctypes.util.find_library("promptvault")
(the system's linker paths and ldconfig cache); the development build,
libpromptvault_ffi.so under $CARGO_TARGET_DIR (or the repository's target/)
in release/ or debug/, the newer of the two if both exist. The story checks
every result with assert, so it doubles as a test (scripts/test-ffi.sh runs
it against the development build and against an installed prefix).
"""

import ctypes as C
import ctypes.util
import json
import os
import pathlib
import subprocess
import sys

ID_BUF_LEN = 33  # PV_ID_BUF_LEN
RECOVERY_KEY_BUF_LEN = 63  # PV_RECOVERY_KEY_BUF_LEN
CREDENTIAL_PASSWORD = 0
CREDENTIAL_RECOVERY_KEY = 1
OK = 0
AUTHENTICATION = 1
NOT_FOUND = 9
NULL_PARAMETER = 100
BUFFER_TOO_SMALL = 102


class KdfParams(C.Structure):
    _fields_ = [("m_cost_kib", C.c_uint32), ("t_cost", C.c_uint32), ("p_cost", C.c_uint32)]


FAST = KdfParams(19456, 1, 1)  # the minimum; the defaults are 65536, 3, 1


SONAME = "libpromptvault.so.0"  # what scripts/install-ffi.sh installs


def installed_library():
    """The installed library's path, from pkg-config or the system's linker
    search (ctypes.util.find_library), or None."""
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "promptvault"],
                                capture_output=True, text=True, check=True).stdout.strip()
        if libdir and (pathlib.Path(libdir) / SONAME).exists():
            return str(pathlib.Path(libdir) / SONAME)
    except (OSError, subprocess.CalledProcessError):
        pass  # no pkg-config, or no promptvault.pc on its path
    return ctypes.util.find_library("promptvault")  # a name CDLL resolves, or None


def find_library():
    if len(sys.argv) > 1:
        return sys.argv[1]
    if os.environ.get("PROMPTVAULT_LIB"):
        return os.environ["PROMPTVAULT_LIB"]
    found = installed_library()
    if found:
        return found
    root = pathlib.Path(__file__).resolve().parents[2]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or root / "target")
    if not target.is_absolute():  # cargo reads it relative to the working directory
        target = pathlib.Path.cwd() / target
    built = [p for p in (target / d / "libpromptvault_ffi.so" for d in ("release", "debug")) if p.exists()]
    if not built:
        sys.exit("story.py: no promptvault library: pass its path, set PROMPTVAULT_LIB, install it "
                 "(scripts/install-ffi.sh) or build it (cargo build -p promptvault-ffi); looked in %s" % target)
    return str(max(built, key=lambda p: p.stat().st_mtime))


class PromptVaultError(Exception):
    def __init__(self, code, name, message):
        super().__init__("%s (%d): %s" % (name, code, message))
        self.code = code


class Lib:
    """Thin ctypes declarations; every call is checked and turned into a
    PromptVaultError carrying the library's code and message."""

    def __init__(self, path):
        self.c = C.CDLL(path)
        P = C.c_void_p
        S = C.c_char_p
        Z = C.c_size_t
        PZ = C.POINTER(C.c_size_t)
        PP = C.POINTER(C.c_void_p)
        U64 = C.c_uint64
        sigs = {
            "pv_result_name": [C.c_uint32, P, Z, PZ],
            "pv_last_error_message": [P, Z, PZ],
            "pv_vault_create": [S, C.POINTER(KdfParams), P, Z, PP, PP],
            "pv_vault_open_store": [P, C.c_uint32, S, PP],
            "pv_vault_create_prompt": [P, S, S, C.c_bool, U64, P, Z, PP],
            "pv_vault_add_version": [P, S, S, U64, P, Z, PP],
            "pv_vault_restore_version": [P, S, S, U64, P, Z, PP],
            "pv_vault_version": [P, S, S, P, Z, PZ],
            "pv_vault_history": [P, S, P, Z, PZ],
            "pv_vault_diff": [P, S, S, S, P, Z, PZ],
            "pv_vault_list": [P, S, P, Z, PZ],
            "pv_vault_tags": [P, P, Z, PZ],
            "pv_vault_add_tags": [P, S, S, U64, PP],
            "pv_vault_rename_tag": [P, S, S, U64, PP],
            "pv_vault_set_favorite": [P, S, C.c_bool, U64, PP],
            "pv_vault_set_archived": [P, S, C.c_bool, U64, PP],
            "pv_vault_prune_history": [P, S, Z, U64, PP],
            "pv_vault_delete_prompt": [P, S, PP],
            "pv_vault_publish": [P, S, S, P, Z, PZ],
            "pv_vault_change_password": [P, S, C.POINTER(KdfParams), PP],
            "pv_vault_replace_recovery_key": [P, P, Z, PP],
            "pv_vault_rotate": [P, S, P, Z, PP],
            "pv_vault_finish_rotation": [P, PP],
            "pv_vault_key_generation": [P, C.POINTER(C.c_uint32)],
            "pv_vault_export": [P, S, C.POINTER(KdfParams), PP],
            "pv_vault_import": [P, P, Z, S, U64, PZ, PZ, PP],
            "pv_vault_header": [P, P, Z, PZ],
            "pv_vault_verify": [P],
            "pv_vault_prompt_count": [P, PZ],
            "pv_vault_damaged_count": [P, PZ],
            "pv_changeset_put_count": [P, PZ],
            "pv_changeset_delete_count": [P, PZ],
            "pv_store_new": [PP],
            "pv_store_apply": [P, P],
            "pv_store_bundle": [P, P, Z, PZ],
            "pv_store_from_bundle": [P, Z, PP],
            "pv_bytes_len": [P, PZ],
            "pv_bytes_copy": [P, P, Z, PZ],
            "pv_inspect": [P, Z, P, Z, PZ],
        }
        for name, args in sigs.items():
            f = getattr(self.c, name)
            f.argtypes = args
            f.restype = C.c_uint32
        for name in ("pv_vault_free", "pv_changeset_free", "pv_store_free", "pv_bytes_free"):
            f = getattr(self.c, name)
            f.argtypes = [P]
            f.restype = None

    def text(self, fn, *args):
        """Calls a text-returning function with a small buffer, then with
        the size it asked for (BUFFER_TOO_SMALL reports it in out_len)."""
        n = C.c_size_t(0)
        small = C.create_string_buffer(16)
        r = getattr(self.c, fn)(*args, small, len(small), C.byref(n))
        if r == BUFFER_TOO_SMALL:
            buf = C.create_string_buffer(n.value)
            r = getattr(self.c, fn)(*args, buf, len(buf), C.byref(n))
            assert n.value == len(buf)
        else:
            buf = small
        self.check(r, fn)
        return buf.value.decode("utf-8")

    def binary(self, fn, *args):
        n = C.c_size_t(0)
        probe = C.create_string_buffer(1)
        r = getattr(self.c, fn)(*args, probe, 1, C.byref(n))
        if r == BUFFER_TOO_SMALL:
            buf = C.create_string_buffer(n.value)
            r = getattr(self.c, fn)(*args, buf, len(buf), C.byref(n))
        else:
            buf = probe
        self.check(r, fn)
        return buf.raw[: n.value]

    def check(self, r, what):
        if r != OK:
            name = C.create_string_buffer(64)
            msg = C.create_string_buffer(1024)
            n = C.c_size_t(0)
            self.c.pv_result_name(r, name, len(name), C.byref(n))
            self.c.pv_last_error_message(msg, len(msg), C.byref(n))
            raise PromptVaultError(r, name.value.decode(), "%s: %s" % (what, msg.value.decode()))

    def call(self, fn, *args):
        self.check(getattr(self.c, fn)(*args), fn)


def b(s):
    return s.encode("utf-8")


def main():
    path = find_library()
    print("python story: library: %s" % path)
    lib = Lib(path)
    c = lib.c
    checks = 0

    def apply(store, cs):
        lib.call("pv_store_apply", store, cs)
        c.pv_changeset_free(cs)

    # Create a vault; the recovery key is shown once.
    rk = C.create_string_buffer(RECOVERY_KEY_BUF_LEN)
    vault, cs, store = C.c_void_p(), C.c_void_p(), C.c_void_p()
    lib.call("pv_vault_create", b("correct horse"), C.byref(FAST), rk, len(rk), C.byref(vault), C.byref(cs))
    recovery_key = rk.value.decode()
    assert len(recovery_key) == 62
    lib.call("pv_store_new", C.byref(store))
    apply(store, cs)

    # Prompts and versions.
    pid = C.create_string_buffer(ID_BUF_LEN)
    draft = {"title": "Lighthouse", "body": "a lighthouse\nin a storm", "settings": {"model": "sdxl"}, "note": "first"}
    lib.call("pv_vault_create_prompt", vault, b(json.dumps(draft)), b(json.dumps(["Art", "Straße"])), True,
             1000, pid, len(pid), C.byref(cs))
    apply(store, cs)
    lighthouse = pid.value
    first = json.loads(lib.text("pv_vault_history", vault, lighthouse))[0]["id"]
    vid = C.create_string_buffer(ID_BUF_LEN)
    lib.call("pv_vault_add_version", vault, lighthouse,
             b(json.dumps({"title": "Lighthouse", "body": "a lighthouse\nin a storm at night"})), 2000,
             vid, len(vid), C.byref(cs))
    apply(store, cs)
    second = vid.value.decode()
    current = json.loads(lib.text("pv_vault_version", vault, lighthouse, b""))
    assert current["id"] == second and current["body"].endswith("at night") and current["parent"] == first
    checks += 1
    diff = json.loads(lib.text("pv_vault_diff", vault, lighthouse, b(first), b(second)))
    assert {"op": "insert", "text": "in a storm at night"} in diff
    checks += 1

    lib.call("pv_vault_create_prompt", vault, b(json.dumps({"title": "Haiku bot", "body": "answer in haiku"})),
             b('["llm"]'), False, 3000, pid, len(pid), C.byref(cs))
    apply(store, cs)
    haiku = pid.value

    # Tags, favorites, archive, search.
    lib.call("pv_vault_add_tags", vault, haiku, b('["poetry"]'), 4000, C.byref(cs))
    apply(store, cs)
    lib.call("pv_vault_rename_tag", vault, b("LLM"), b("chat"), 4100, C.byref(cs))
    apply(store, cs)
    tags = {t["tag"]: t["count"] for t in json.loads(lib.text("pv_vault_tags", vault))}
    assert tags == {"Art": 1, "Straße": 1, "chat": 1, "poetry": 1}, tags
    checks += 1
    found = json.loads(lib.text("pv_vault_list", vault, b(json.dumps({"tags": ["STRASSE"]}))))
    assert [p["id"] for p in found] == [lighthouse.decode()]
    checks += 1
    found = json.loads(lib.text("pv_vault_list", vault, b(json.dumps({"text": "HAIKU"}))))
    assert [p["id"] for p in found] == [haiku.decode()]
    checks += 1
    lib.call("pv_vault_set_archived", vault, haiku, True, 5000, C.byref(cs))
    apply(store, cs)
    lib.call("pv_vault_set_favorite", vault, lighthouse, False, 5000, C.byref(cs))
    apply(store, cs)
    assert [p["id"] for p in json.loads(lib.text("pv_vault_list", vault, b("{}")))] == [lighthouse.decode()]
    only = json.loads(lib.text("pv_vault_list", vault, b('{"archived":"only"}')))
    assert [p["id"] for p in only] == [haiku.decode()] and only[0]["archived"] is True
    checks += 2

    # Restore, publish, prune.
    lib.call("pv_vault_restore_version", vault, lighthouse, b(first), 6000, vid, len(vid), C.byref(cs))
    apply(store, cs)
    published = json.loads(lib.text("pv_vault_publish", vault, lighthouse, b""))
    assert published == {"title": "Lighthouse", "body": "a lighthouse\nin a storm", "settings": {"model": "sdxl"}}
    checks += 1
    lib.call("pv_vault_prune_history", vault, lighthouse, 1, 7000, C.byref(cs))
    n = C.c_size_t()
    lib.call("pv_changeset_delete_count", cs, C.byref(n))
    assert n.value == 2
    checks += 1
    apply(store, cs)
    assert len(json.loads(lib.text("pv_vault_history", vault, lighthouse))) == 1
    checks += 1

    # Save, lock, reopen with the password and with the recovery key.
    bundle = lib.binary("pv_store_bundle", store)
    c.pv_store_free(store)
    c.pv_vault_free(vault)
    loaded = C.c_void_p()
    lib.call("pv_store_from_bundle", bundle, len(bundle), C.byref(loaded))
    vault = C.c_void_p()
    try:
        lib.call("pv_vault_open_store", loaded, CREDENTIAL_PASSWORD, b("wrong"), C.byref(vault))
        raise AssertionError("a wrong password opened the vault")
    except PromptVaultError as e:
        assert e.code == AUTHENTICATION
        checks += 1
    lib.call("pv_vault_open_store", loaded, CREDENTIAL_RECOVERY_KEY, b(recovery_key), C.byref(vault))
    lib.call("pv_vault_verify", vault)
    lib.call("pv_vault_prompt_count", vault, C.byref(n))
    assert n.value == 2
    checks += 1
    # Prompts whose metadata breaks a model rule (none here): a scalar query.
    lib.call("pv_vault_damaged_count", vault, C.byref(n))
    assert n.value == 0
    checks += 1
    store = loaded

    # Password change, new recovery key, rotation.
    lib.call("pv_vault_change_password", vault, b("tr0ub4dor&3"), C.byref(FAST), C.byref(cs))
    apply(store, cs)
    lib.call("pv_vault_replace_recovery_key", vault, rk, len(rk), C.byref(cs))
    apply(store, cs)
    assert rk.value.decode() != recovery_key
    lib.call("pv_vault_rotate", vault, b("tr0ub4dor&3"), rk, len(rk), C.byref(cs))
    apply(store, cs)
    lib.call("pv_vault_finish_rotation", vault, C.byref(cs))
    apply(store, cs)
    gen = C.c_uint32()
    lib.call("pv_vault_key_generation", vault, C.byref(gen))
    assert gen.value == 2
    checks += 2
    reopened = C.c_void_p()
    lib.call("pv_vault_open_store", store, CREDENTIAL_RECOVERY_KEY, rk.value, C.byref(reopened))
    lib.call("pv_vault_verify", reopened)
    c.pv_vault_free(reopened)
    checks += 1

    # Export, import twice (idempotent).
    file = C.c_void_p()
    lib.call("pv_vault_export", vault, b("export password"), C.byref(FAST), C.byref(file))
    exported = lib.binary("pv_bytes_copy", file)
    c.pv_bytes_free(file)
    other, ocs = C.c_void_p(), C.c_void_p()
    ork = C.create_string_buffer(RECOVERY_KEY_BUF_LEN)
    lib.call("pv_vault_create", b("other"), C.byref(FAST), ork, len(ork), C.byref(other), C.byref(ocs))
    c.pv_changeset_free(ocs)
    added_p, added_v = C.c_size_t(), C.c_size_t()
    for expect in ((2, 2), (0, 0)):
        lib.call("pv_vault_import", other, exported, len(exported), b("export password"), 8000,
                 C.byref(added_p), C.byref(added_v), C.byref(ocs))
        c.pv_changeset_free(ocs)
        assert (added_p.value, added_v.value) == expect, (added_p.value, added_v.value)
        checks += 1
    c.pv_vault_free(other)

    # Delete a prompt; errors come back as codes.
    lib.call("pv_vault_delete_prompt", vault, haiku, C.byref(cs))
    apply(store, cs)
    try:
        lib.text("pv_vault_version", vault, haiku, b"")
        raise AssertionError("a deleted prompt was found")
    except PromptVaultError as e:
        assert e.code == NOT_FOUND
        checks += 1
    assert c.pv_vault_verify(None) == NULL_PARAMETER
    checks += 1

    # Keyless inspection, as a server would.
    header = lib.binary("pv_vault_header", vault)
    info = json.loads(lib.text("pv_inspect", header, len(header)))
    assert info["kind"] == "vault-header" and info["keyGeneration"] == 2 and info["storageKey"] == "h"
    checks += 1

    c.pv_vault_free(vault)
    c.pv_store_free(store)
    print("python story: %d passed, 0 failed" % checks)


if __name__ == "__main__":
    main()
