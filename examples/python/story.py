#!/usr/bin/env python3
"""The whole promptvault story from Python, through ctypes and the C ABI,
then two devices syncing one account through a promptvault-server, with
`urllib` as the app's HTTP stack.

Run (from anywhere, after `cargo build -p promptvault-ffi -p
promptvault-server`, or `scripts/install-ffi.sh`):

    python3 examples/python/story.py [path/to/libpromptvault.so]
        [--server http://127.0.0.1:PORT | --server-bin path/to/promptvault-server]

The library is the first of: the argument; $PROMPTVAULT_LIB; an installed
one, through pkg-config (`pkg-config --variable=libdir promptvault`, which
honours $PKG_CONFIG_PATH) and then ctypes.util.find_library("promptvault")
(the system's linker paths and ldconfig cache); the development build,
libpromptvault_ffi.so under $CARGO_TARGET_DIR (or the repository's target/)
in release/ or debug/, the newer of the two if both exist. The story checks
every result with assert, so it doubles as a test (scripts/test-ffi.sh runs
it against the development build and against an installed prefix).

The sync needs a server: --server (or $PROMPTVAULT_SERVER) names a running
one; otherwise the story starts the first of --server-bin,
$PROMPTVAULT_SERVER_BIN, promptvault-server under $CARGO_TARGET_DIR (or
target/) in release/ or debug/, or on $PATH, on 127.0.0.1 with a temporary
SQLite file, and stops it at the end. The library decides every request
(pv_sync_*); this file only sends them, hands back status and body, and
keeps each device's store and seen-state blob in files.
"""

import argparse
import ctypes as C
import ctypes.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

ID_BUF_LEN = 33  # PV_ID_BUF_LEN
RECOVERY_KEY_BUF_LEN = 63  # PV_RECOVERY_KEY_BUF_LEN
CREDENTIAL_PASSWORD = 0
CREDENTIAL_RECOVERY_KEY = 1
OK = 0
AUTHENTICATION = 1
NOT_FOUND = 9
INVALID_RECOVERY_KEY = 7
SERVER_REFUSED = 17
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


def target_dir():
    """Cargo's target directory: $CARGO_TARGET_DIR (relative to the working
    directory, as cargo reads it) or the repository's target/."""
    root = pathlib.Path(__file__).resolve().parents[2]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or root / "target")
    if not target.is_absolute():
        target = pathlib.Path.cwd() / target
    return target


def built(name):
    """The newer of release/NAME and debug/NAME under the target directory,
    or None."""
    found = [p for p in (target_dir() / d / name for d in ("release", "debug")) if p.exists()]
    return str(max(found, key=lambda p: p.stat().st_mtime)) if found else None


def find_library(given):
    if given:
        return given
    if os.environ.get("PROMPTVAULT_LIB"):
        return os.environ["PROMPTVAULT_LIB"]
    found = installed_library() or built("libpromptvault_ffi.so")
    if not found:
        sys.exit("story.py: no promptvault library: pass its path, set PROMPTVAULT_LIB, install it "
                 "(scripts/install-ffi.sh) or build it (cargo build -p promptvault-ffi); looked in %s"
                 % target_dir())
    return found


def find_server_bin(given):
    found = (given or os.environ.get("PROMPTVAULT_SERVER_BIN") or built("promptvault-server")
             or shutil.which("promptvault-server"))
    if not found:
        sys.exit("story.py: no server to sync with: pass --server URL (a running promptvault-server) "
                 "or build one (cargo build -p promptvault-server); looked in %s and on PATH" % target_dir())
    return found


class Server:
    """A promptvault-server on 127.0.0.1 (a free port) with a SQLite file in
    `work`, as scripts/test-ffi.sh starts it; stopped by close()."""

    def __init__(self, binary, work):
        self.log = open(os.path.join(work, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--database", "sqlite://%s/server.sqlite" % work],
            stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode().strip()  # "listening on ADDR", or EOF if it died
        if not line.startswith("listening on "):
            self.close()
            sys.exit("story.py: %s did not start (see %s/server.log): %r" % (binary, work, line))
        self.url = "http://" + line[len("listening on "):]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.log.close()


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
            "pv_store_put_header": [P, P],
            "pv_vault_prompt_ids": [P, P, Z, PZ],
            "pv_sync_state_new": [PP],
            "pv_sync_state_from_json": [S, PP],
            "pv_sync_state_to_json": [P, P, Z, PZ],
            "pv_sync_start": [P, P, PP],
            "pv_sync_done": [P, C.POINTER(C.c_bool)],
            "pv_sync_persist": [P, C.POINTER(C.c_bool)],
            "pv_sync_backoff": [P, C.POINTER(C.c_uint32)],
            "pv_sync_request_method": [P, P, Z, PZ],
            "pv_sync_request_path": [P, P, Z, PZ],
            "pv_sync_request_body": [P, P, Z, PZ],
            "pv_sync_report": [P, P, Z, PZ],
            "pv_sync_resume": [P, P, P, P, C.c_uint16, P, Z],
            "pv_download_start": [S, P, PP],
            "pv_download_request_body": [P, P, Z, PZ],
            "pv_download_absorb": [P, C.c_uint16, P, Z, C.POINTER(C.c_bool)],
            "pv_download_header": [P, P, Z, PZ],
            "pv_download_finish": [P, P, P, P],
            "pv_login_key_from_prelogin": [S, S, PP],
            "pv_login_key_from_header": [P, Z, S, PP],
            "pv_login_key_from_recovery_key": [S, PP],
            "pv_login_request": [P, S, S, S, P, Z, PZ],
            "pv_register_request": [P, S, S, S, P, Z, P, Z, PZ],
            "pv_session_token": [C.c_uint16, P, Z, P, Z, PZ],
            "pv_vault_open": [P, Z, P, P, Z, C.c_uint32, S, PP],
        }
        for name, args in sigs.items():
            f = getattr(self.c, name)
            f.argtypes = args
            f.restype = C.c_uint32
        for name in ("pv_vault_free", "pv_changeset_free", "pv_store_free", "pv_bytes_free",
                     "pv_sync_state_free", "pv_sync_free", "pv_download_free", "pv_login_key_free"):
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


def local_story(lib):
    """One vault on one device: prompts, versions, search, keys, export.
    Returns the number of checks."""
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
    return checks


# ---- sync: the app's part is HTTP and files --------------------------------------


def post(base, path, body, token=None):
    """POSTs JSON text; (status, body bytes) whatever the status (urllib
    raises for 4xx/5xx: that is still an answer for the library to read)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(base + path, data=body.encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


def write_file(path, data):
    """Replaces a file whole (a crash leaves the old one or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Device:
    """One app install: its vault file (the store's bundle), its seen-state
    blob (pv_sync_state_to_json) in a file, and a session token."""

    def __init__(self, lib, name, home, base, account):
        self.lib, self.c, self.name, self.base, self.account = lib, lib.c, name, base, account
        home.mkdir()
        self.store_file = home / "vault.pvb"
        self.state_file = home / "sync-state.json"
        self.vault, self.store, self.state = C.c_void_p(), C.c_void_p(), C.c_void_p()
        self.token = None

    # -- local changes --
    def apply(self, cs):
        self.lib.call("pv_store_apply", self.store, cs)
        self.c.pv_changeset_free(cs)
        self.save_store()

    def save_store(self):
        write_file(self.store_file, self.lib.binary("pv_store_bundle", self.store))

    def persist(self):
        """What the app does at a step whose persist flag is set: the store
        first, then the seen-state blob."""
        self.save_store()
        write_file(self.state_file, self.lib.text("pv_sync_state_to_json", self.state).encode("utf-8"))

    def add_prompt(self, title, body, now):
        pid, cs = C.create_string_buffer(ID_BUF_LEN), C.c_void_p()
        self.lib.call("pv_vault_create_prompt", self.vault, b(json.dumps({"title": title, "body": body})),
                      b('["sync"]'), False, now, pid, len(pid), C.byref(cs))
        self.apply(cs)
        return pid.value

    def add_version(self, pid, title, body, now):
        vid, cs = C.create_string_buffer(ID_BUF_LEN), C.c_void_p()
        self.lib.call("pv_vault_add_version", self.vault, pid, b(json.dumps({"title": title, "body": body})),
                      now, vid, len(vid), C.byref(cs))
        self.apply(cs)
        return vid.value.decode()

    # -- restart: everything from the files --
    def close(self):
        for h, free in ((self.vault, self.c.pv_vault_free), (self.store, self.c.pv_store_free),
                        (self.state, self.c.pv_sync_state_free)):
            free(h)
            h.value = None

    def restart(self, password):
        """Drops every handle and loads the vault file and the seen-state
        blob again, as an app does when it starts."""
        self.close()
        bundle = self.store_file.read_bytes()
        self.lib.call("pv_store_from_bundle", bundle, len(bundle), C.byref(self.store))
        self.lib.call("pv_vault_open_store", self.store, CREDENTIAL_PASSWORD, b(password), C.byref(self.vault))
        self.lib.call("pv_sync_state_from_json", self.state_file.read_bytes(), C.byref(self.state))

    # -- account --
    def challenge(self, action):
        status, body = post(self.base, "/v1/challenge", json.dumps({"account": self.account, "action": action}))
        assert status == 200, (status, body)
        return body

    def take_session(self, path, request):
        """Posts a login or registration; the library reads the answer: the
        token, or the server's refusal as a PromptVaultError."""
        status, body = post(self.base, path, request)
        self.token = self.lib.text("pv_session_token", status, body, len(body))
        return body

    def register(self, password):
        header = self.lib.binary("pv_vault_header", self.vault)
        key = C.c_void_p()
        self.lib.call("pv_login_key_from_header", header, len(header), b(password), C.byref(key))
        try:
            request = self.lib.text("pv_register_request", key, self.challenge("register"), b(self.base),
                                    b(self.account), header, len(header))
        finally:
            self.c.pv_login_key_free(key)
        self.take_session("/v1/register", request)

    def login(self, password):
        status, pre = post(self.base, "/v1/prelogin", json.dumps({"account": self.account}))
        assert status == 200, (status, pre)
        key = C.c_void_p()
        self.lib.call("pv_login_key_from_prelogin", pre, b(password), C.byref(key))
        try:
            request = self.lib.text("pv_login_request", key, self.challenge("login"), b(self.base), b(self.account))
        finally:
            self.c.pv_login_key_free(key)
        return self.take_session("/v1/login", request)

    def download(self, password):
        """A new device: log in, pull the vault the server holds, open it,
        seed the store, persist both files."""
        session = self.login(password)
        self.lib.call("pv_sync_state_new", C.byref(self.state))
        dl = C.c_void_p()
        self.lib.call("pv_download_start", session, self.state, C.byref(dl))
        try:
            more = C.c_bool(True)
            while more.value:
                status, page = post(self.base, "/v1/pull", self.lib.text("pv_download_request_body", dl), self.token)
                self.lib.call("pv_download_absorb", dl, status, page, len(page), C.byref(more))
            header = self.lib.binary("pv_download_header", dl)
            no_records, no_lens = (C.c_void_p * 1)(), (C.c_size_t * 1)()  # NULL is refused, even for none
            self.lib.call("pv_vault_open", header, len(header), no_records, no_lens, 0, CREDENTIAL_PASSWORD,
                          b(password), C.byref(self.vault))
            self.lib.call("pv_store_new", C.byref(self.store))
            self.lib.call("pv_store_put_header", self.store, self.vault)
            self.lib.call("pv_download_finish", dl, self.vault, self.store, self.state)
        finally:
            self.c.pv_download_free(dl)
        self.persist()

    def sync(self, token=None):
        """One whole sync: the library's steps, urllib's HTTP. The report."""
        s = C.c_void_p()
        self.lib.call("pv_sync_start", self.vault, self.state, C.byref(s))
        try:
            done, keep, backoff = C.c_bool(), C.c_bool(), C.c_uint32()
            while True:
                self.lib.call("pv_sync_persist", s, C.byref(keep))
                if keep.value:
                    self.persist()
                self.lib.call("pv_sync_done", s, C.byref(done))
                if done.value:
                    report = json.loads(self.lib.text("pv_sync_report", s))
                    print("python story: %s sync: %s" % (self.name, json.dumps(report, sort_keys=True)))
                    return report
                self.lib.call("pv_sync_backoff", s, C.byref(backoff))
                assert backoff.value < 64
                assert self.lib.text("pv_sync_request_method", s) == "POST"
                status, answer = post(self.base, self.lib.text("pv_sync_request_path", s),
                                      self.lib.text("pv_sync_request_body", s), token or self.token)
                self.lib.call("pv_sync_resume", s, self.vault, self.store, self.state, status, answer, len(answer))
        finally:
            self.c.pv_sync_free(s)

    # -- what it holds --
    def view(self):
        """Every prompt (archived too) with its whole history."""
        listed = json.loads(self.lib.text("pv_vault_list", self.vault, b('{"archived":"include"}')))
        ids = json.loads(self.lib.text("pv_vault_prompt_ids", self.vault))
        return listed, {i: json.loads(self.lib.text("pv_vault_history", self.vault, b(i))) for i in ids}


def sync_story(lib, base):
    """Two devices of one account through the server at `base`. Returns
    the number of checks."""
    c = lib.c
    checks = 0
    work = pathlib.Path(tempfile.mkdtemp(prefix="pv-py-sync-"))
    account = "py-sync-%d-%s" % (os.getpid(), os.urandom(4).hex())
    password = "correct horse battery"
    a = Device(lib, "A", work / "a", base, account)
    b_ = Device(lib, "B", work / "b", base, account)
    try:
        # A: create a vault, register the account with it, add prompts, sync.
        rk = C.create_string_buffer(RECOVERY_KEY_BUF_LEN)
        cs = C.c_void_p()
        lib.call("pv_vault_create", b(password), C.byref(FAST), rk, len(rk), C.byref(a.vault), C.byref(cs))
        lib.call("pv_store_new", C.byref(a.store))
        a.apply(cs)
        lib.call("pv_sync_state_new", C.byref(a.state))
        a.register(password)
        lighthouse = a.add_prompt("Lighthouse", "a lighthouse in a storm", 1700000000000)
        a.add_prompt("Haiku bot", "answer only in haiku", 1700000001000)
        r = a.sync()
        assert r["commits"] >= 1 and r["pushed"] >= 2 and r["cursor"] > 0, r
        checks += 1
        assert json.loads(a.state_file.read_text())["cursor"] == r["cursor"]
        checks += 1

        # B: a wrong password is the server's typed refusal, as a code and an
        # exception; then the right one downloads the vault.
        try:
            b_.login("correct horse battery?")
            raise AssertionError("a wrong password logged in")
        except PromptVaultError as e:
            assert e.code == SERVER_REFUSED and "authentication_failed" in str(e), e
            assert b_.token is None
            checks += 1
        b_.download(password)
        r = b_.sync()
        assert r["commits"] == 0 and r["pushed"] == 0, r
        assert a.view() == b_.view() and len(a.view()[1]) == 2
        checks += 2

        # Both edit the same prompt offline and add one each; B's app restarts
        # from its files in between (the seen-state blob is reused).
        a_version = a.add_version(lighthouse, "Lighthouse", "a lighthouse in a storm at night", 1700000002000)
        a.add_prompt("From A", "written offline on A", 1700000003000)
        b_.restart(password)
        b_version = b_.add_version(lighthouse, "Lighthouse", "a lighthouse in a storm, at dawn", 1700000004000)
        b_.add_prompt("From B", "written offline on B", 1700000005000)

        # Sync A, B, A: both edits of the same prompt survive, everywhere.
        r = a.sync()
        assert r["pushed"] >= 1 and r["conflicts"] == 0, r
        checks += 1
        b_.restart(password)
        r = b_.sync()
        assert r["promptsAdded"] == 1 and r["versionsAdded"] >= 1 and r["pushed"] >= 1, r
        assert r["conflictsResolved"] == 1, r  # both changed the Lighthouse's metadata: merged, not lost
        assert not r["fullPull"], r  # the reused blob: only what is new was pulled
        checks += 3
        r = a.sync()
        assert r["promptsAdded"] == 1 and r["versionsAdded"] >= 1, r
        checks += 1
        va, vb = a.view(), b_.view()
        assert va == vb, "the devices did not converge"
        checks += 1
        assert len(va[1]) == 4 and {p["title"] for p in va[0]} == {"Lighthouse", "Haiku bot", "From A", "From B"}
        checks += 1
        history = {v["id"] for v in va[1][lighthouse.decode()]}
        assert {a_version, b_version} <= history and len(history) == 3, history  # no version lost
        checks += 1

        # The blob reused after a restart: nothing new, nothing pulled again.
        saved = json.loads(b_.state_file.read_text())
        b_.restart(password)
        r = b_.sync()
        assert (r["pulled"], r["pushed"], r["commits"], r["fullPull"]) == (0, 0, 0, False), r
        assert r["cursor"] == saved["cursor"] == json.loads(a.state_file.read_text())["cursor"]
        checks += 2

        # A refused sync step is a code and an exception, and leaves the
        # device's files as they were.
        before = (b_.store_file.read_bytes(), b_.state_file.read_bytes())
        try:
            b_.sync(token="A" * 43)
            raise AssertionError("a sync with a made-up token went through")
        except PromptVaultError as e:
            assert e.code == SERVER_REFUSED and "unauthorized" in str(e), e
            checks += 1
        assert (b_.store_file.read_bytes(), b_.state_file.read_bytes()) == before
        checks += 1
    finally:
        a.close()
        b_.close()
        shutil.rmtree(work, ignore_errors=True)
    assert c.pv_sync_state_free(None) is None  # NULL does nothing
    return checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", nargs="?", help="path to libpromptvault.so (else searched)")
    parser.add_argument("--server", default=os.environ.get("PROMPTVAULT_SERVER"),
                        help="base URL of a running promptvault-server (else one is started)")
    parser.add_argument("--server-bin", help="the promptvault-server binary to start")
    args = parser.parse_args()
    path = find_library(args.library)
    print("python story: library: %s" % path)
    lib = Lib(path)
    checks = local_story(lib)
    print("python story: one device: %d checks" % checks)
    server, work = None, None
    try:
        base = args.server
        if not base:
            work = tempfile.mkdtemp(prefix="pv-py-server-")
            server = Server(find_server_bin(args.server_bin), work)
            base = server.url
        print("python story: server: %s%s" % (base, " (started here, SQLite)" if server else ""))
        try:
            synced = sync_story(lib, base)
        except urllib.error.URLError as e:  # no answer at all: the app's network, not the library
            sys.exit("story.py: cannot reach the server at %s: %s" % (base, e.reason))
        print("python story: two devices synced: %d checks" % synced)
        checks += synced
    finally:
        if server:
            server.close()
        if work:
            shutil.rmtree(work, ignore_errors=True)
    print("python story: %d passed, 0 failed" % checks)


if __name__ == "__main__":
    main()
