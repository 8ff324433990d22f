//! Rust-side tests of the sync calls of the C ABI, called through raw
//! pointers as C does. The keyless ones (the state blob, a download's
//! pages, status mapping) run under miri; the ones that open a vault or
//! derive a login key run Argon2id and are skipped there (the C sync test
//! drives them against a real server under valgrind and ASan).
#![allow(
    unsafe_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use promptvault::format::text;
use promptvault::protocol;
use promptvault_ffi::*;
use serde_json::Value;

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    let mut buf = [0u8; 1024];
    let mut n = 0usize;
    // SAFETY: `buf` and `n` are live and writable.
    let r = unsafe { pv_last_error_message(buf.as_mut_ptr().cast(), buf.len(), &mut n) };
    assert_eq!(r, pv_result::Ok);
    CStr::from_bytes_until_nul(&buf)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// Calls a text-output function with a large buffer and returns the text.
fn text(f: impl FnOnce(*mut c_char, usize, *mut usize) -> pv_result) -> (pv_result, String) {
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0usize;
    let r = f(buf.as_mut_ptr().cast(), buf.len(), &mut n);
    if r != pv_result::Ok {
        return (r, String::new());
    }
    let s = CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap();
    assert_eq!(s.len() + 1, n);
    (r, s.to_owned())
}

const VAULT_ID: &str = "00112233445566778899aabbccddeeff";

#[test]
fn the_state_blob_round_trips() {
    let mut state: *mut pv_sync_state = ptr::null_mut();
    // SAFETY: live out-pointers and buffers; handles freed once.
    unsafe {
        assert_eq!(pv_sync_state_new(&mut state), pv_result::Ok);
        let (r, json) = text(|b, l, n| pv_sync_state_to_json(state, b, l, n));
        assert_eq!(r, pv_result::Ok);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["cursor"], 0);
        let mut again: *mut pv_sync_state = ptr::null_mut();
        let blob = cstr(&json);
        assert_eq!(
            pv_sync_state_from_json(blob.as_ptr(), &mut again),
            pv_result::Ok
        );
        let (_, json2) = text(|b, l, n| pv_sync_state_to_json(again, b, l, n));
        assert_eq!(json, json2);
        let bad = cstr(r#"{"cursor":"x"}"#);
        let mut none: *mut pv_sync_state = ptr::null_mut();
        assert_eq!(
            pv_sync_state_from_json(bad.as_ptr(), &mut none),
            pv_result::Encoding
        );
        assert!(none.is_null());
        assert_eq!(
            pv_sync_state_from_json(ptr::null(), &mut none),
            pv_result::NullParameter
        );
        pv_sync_state_free(state);
        pv_sync_state_free(again);
        pv_sync_state_free(ptr::null_mut());
    }
}

#[test]
fn a_download_maps_statuses_through_the_core() {
    let mut state: *mut pv_sync_state = ptr::null_mut();
    let mut dl: *mut pv_download = ptr::null_mut();
    let session = cstr(&format!(
        r#"{{"token":"t","expiresIn":60,"vaultId":"{VAULT_ID}","cursor":3}}"#
    ));
    // SAFETY: live out-pointers and buffers; handles freed once.
    unsafe {
        assert_eq!(pv_sync_state_new(&mut state), pv_result::Ok);
        assert_eq!(
            pv_download_start(session.as_ptr(), state, &mut dl),
            pv_result::Ok,
            "{}",
            last_error()
        );
        let (r, body) = text(|b, l, n| pv_download_request_body(dl, b, l, n));
        assert_eq!(r, pv_result::Ok);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["after"], 0);
        let mut more = false;
        let busy = b"oops";
        assert_eq!(
            pv_download_absorb(dl, 503, busy.as_ptr(), busy.len(), &mut more),
            pv_result::Transport
        );
        let refusal = br#"{"error":{"code":"unauthorized","message":"log in"}}"#;
        assert_eq!(
            pv_download_absorb(dl, 401, refusal.as_ptr(), refusal.len(), &mut more),
            pv_result::ServerRefused
        );
        assert!(last_error().contains("unauthorized"), "{}", last_error());
        let mut hb = [0u8; 8];
        let mut n = 0usize;
        assert_eq!(
            pv_download_header(dl, hb.as_mut_ptr(), hb.len(), &mut n),
            pv_result::MissingRecord
        );
        pv_download_free(dl);
        pv_sync_state_free(state);
    }
}

/// The frozen password vault (header + records) as a store and an open vault.
fn vector_vault() -> (*mut pv_store, *mut pv_vault, String) {
    let case: Value =
        serde_json::from_str(include_str!("../../core/tests/vectors/vault_password.json")).unwrap();
    let mut bundle = text::decode(case["header"].as_str().unwrap()).unwrap();
    for r in case["records"].as_array().unwrap() {
        bundle.extend(text::decode(r.as_str().unwrap()).unwrap());
    }
    let password = case["password"].as_str().unwrap().to_owned();
    let pw = cstr(&password);
    let mut store: *mut pv_store = ptr::null_mut();
    let mut vault: *mut pv_vault = ptr::null_mut();
    // SAFETY: live buffers and out-pointers.
    unsafe {
        assert_eq!(
            pv_store_from_bundle(bundle.as_ptr(), bundle.len(), &mut store),
            pv_result::Ok
        );
        assert_eq!(
            pv_vault_open_store(store, PV_CREDENTIAL_PASSWORD, pw.as_ptr(), &mut vault),
            pv_result::Ok
        );
    }
    (store, vault, password)
}

#[test]
#[cfg_attr(miri, ignore = "runs Argon2id")]
fn a_sync_gives_the_cores_requests_and_maps_errors() {
    let (store, vault, _) = vector_vault();
    let mut state: *mut pv_sync_state = ptr::null_mut();
    let mut sync: *mut pv_sync = ptr::null_mut();
    // SAFETY: live handles, out-pointers and buffers; handles freed once.
    unsafe {
        assert_eq!(pv_sync_state_new(&mut state), pv_result::Ok);
        assert_eq!(pv_sync_start(vault, state, &mut sync), pv_result::Ok);
        let mut done = true;
        assert_eq!(pv_sync_done(sync, &mut done), pv_result::Ok);
        assert!(!done);
        let (_, method) = text(|b, l, n| pv_sync_request_method(sync, b, l, n));
        let (_, path) = text(|b, l, n| pv_sync_request_path(sync, b, l, n));
        let (_, body) = text(|b, l, n| pv_sync_request_body(sync, b, l, n));
        assert_eq!((method.as_str(), path.as_str()), ("POST", "/v1/pull"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["after"], 0);
        let mut persist = true;
        let mut backoff = 9u32;
        assert_eq!(pv_sync_persist(sync, &mut persist), pv_result::Ok);
        assert_eq!(pv_sync_backoff(sync, &mut backoff), pv_result::Ok);
        assert!(!persist);
        assert_eq!(backoff, 0);
        let (r, _) = text(|b, l, n| pv_sync_report(sync, b, l, n));
        assert_eq!(r, pv_result::NotFound);
        let refusal = br#"{"error":{"code":"cursor_ahead","message":"start over"}}"#;
        assert_eq!(
            pv_sync_resume(
                sync,
                vault,
                store,
                state,
                400,
                refusal.as_ptr(),
                refusal.len()
            ),
            pv_result::ServerRefused
        );
        assert!(last_error().contains("cursor_ahead"), "{}", last_error());
        // The machine has ended: any further answer is the caller's mistake.
        let page = br#"{"rows":[],"cursor":0,"more":false}"#;
        assert_ne!(
            pv_sync_resume(sync, vault, store, state, 200, page.as_ptr(), page.len()),
            pv_result::Ok
        );
        assert_eq!(
            pv_sync_resume(sync, vault, store, ptr::null_mut(), 200, page.as_ptr(), 0),
            pv_result::NullParameter
        );
        pv_sync_free(sync);
        pv_sync_free(ptr::null_mut());
        pv_sync_state_free(state);
        pv_vault_free(vault);
        pv_store_free(store);
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs Argon2id")]
fn login_and_register_bodies_are_signed_by_the_core() {
    let (store, vault, password) = vector_vault();
    let pw = cstr(&password);
    let mut header = vec![0u8; 4096];
    let mut hn = 0usize;
    let challenge = cstr(&format!(
        r#"{{"challenge":"{}","origin":"http://127.0.0.1:1","expiresIn":60}}"#,
        text::encode(&[7u8; 32])
    ));
    let origin = cstr("http://127.0.0.1:1");
    let account = cstr("alice");
    let mut key: *mut pv_login_key = ptr::null_mut();
    // SAFETY: live handles, out-pointers and buffers; handles freed once.
    unsafe {
        assert_eq!(
            pv_vault_header(vault, header.as_mut_ptr(), header.len(), &mut hn),
            pv_result::Ok
        );
        header.truncate(hn);
        assert_eq!(
            pv_login_key_from_header(header.as_ptr(), header.len(), pw.as_ptr(), &mut key),
            pv_result::Ok
        );
        let (r, reg) = text(|b, l, n| {
            pv_register_request(
                key,
                challenge.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                header.as_ptr(),
                header.len(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::Ok, "{}", last_error());
        let reg: Value = serde_json::from_str(&reg).unwrap();
        assert_eq!(reg["account"], "alice");
        assert_eq!(reg["header"], text::encode(&header));
        let (r, login) = text(|b, l, n| {
            pv_login_request(
                key,
                challenge.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::Ok, "{}", last_error());
        let login: Value = serde_json::from_str(&login).unwrap();
        assert_eq!(login["key"], "password");
        assert_ne!(login["signature"], reg["passwordSignature"]);
        let junk = cstr("{}");
        let (r, _) = text(|b, l, n| {
            pv_login_request(
                key,
                junk.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::Encoding);
        pv_login_key_free(key);
        pv_vault_free(vault);
        pv_store_free(store);
    }
}

/// A login's answer: the token of a 200 session, the server's typed
/// refusal as `PV_RESULT_SERVER_REFUSED` (its code in the message), a 5xx
/// or a foreign answer as `PV_RESULT_TRANSPORT`.
#[test]
fn a_login_answer_gives_the_token_or_the_typed_refusal() {
    let session =
        format!(r#"{{"token":"dG9rZW4","expiresIn":60,"vaultId":"{VAULT_ID}","cursor":0}}"#);
    // SAFETY: live buffers; `text` gives a live buffer and length.
    unsafe {
        let (r, token) =
            text(|b, l, n| pv_session_token(200, session.as_ptr(), session.len(), b, l, n));
        assert_eq!(r, pv_result::Ok, "{}", last_error());
        assert_eq!(token, "dG9rZW4");
        let refusal = br#"{"error":{"code":"authentication_failed","message":"no"}}"#;
        let (r, _) =
            text(|b, l, n| pv_session_token(401, refusal.as_ptr(), refusal.len(), b, l, n));
        assert_eq!(r, pv_result::ServerRefused);
        assert!(
            last_error().contains("401 authentication_failed"),
            "{}",
            last_error()
        );
        for (status, body) in [(503, &b"busy"[..]), (200, b"{}")] {
            let (r, _) =
                text(|b, l, n| pv_session_token(status, body.as_ptr(), body.len(), b, l, n));
            assert_eq!(r, pv_result::Transport, "{status}");
        }
        let mut small = [0u8; 2];
        let mut n = 0usize;
        assert_eq!(
            pv_session_token(
                200,
                session.as_ptr(),
                session.len(),
                small.as_mut_ptr().cast(),
                2,
                &mut n
            ),
            pv_result::BufferTooSmall
        );
        assert_eq!(n, "dG9rZW4".len() + 1);
        assert_eq!(
            pv_session_token(200, ptr::null(), 0, small.as_mut_ptr().cast(), 2, &mut n),
            pv_result::NullParameter
        );
    }
}

/// The signature of `body[sig_field]` over `challenge` for `action`,
/// checked against `body[key_field]` with the core's verifier.
fn signed(
    body: &Value,
    key_field: &str,
    sig_field: &str,
    action: protocol::Action,
    kind: protocol::KeyKind,
) -> bool {
    let key = protocol::decode_fixed::<32>(body[key_field].as_str().unwrap()).unwrap();
    let sig = protocol::decode_fixed::<64>(body[sig_field].as_str().unwrap()).unwrap();
    protocol::verify_login(
        &key,
        &sig,
        &[7u8; 32],
        action,
        "http://127.0.0.1:1",
        "alice",
        kind,
    )
    .is_ok()
}

#[test]
#[cfg_attr(miri, ignore = "runs Argon2id")]
fn recovery_rekey_and_delete_bodies_are_signed_by_the_core() {
    let (store, vault, password) = vector_vault();
    let pw = cstr(&password);
    let case: Value =
        serde_json::from_str(include_str!("../../core/tests/vectors/vault_recovery.json")).unwrap();
    let rk_text = cstr(case["recovery_key"].as_str().unwrap());
    let challenge = cstr(&format!(
        r#"{{"challenge":"{}","origin":"http://127.0.0.1:1","expiresIn":60}}"#,
        text::encode(&[7u8; 32])
    ));
    let origin = cstr("http://127.0.0.1:1");
    let account = cstr("alice");
    let mut header = vec![0u8; 4096];
    let mut hn = 0usize;
    let mut key: *mut pv_login_key = ptr::null_mut();
    let mut recovery: *mut pv_login_key = ptr::null_mut();
    // SAFETY: live handles, out-pointers and buffers; handles freed once.
    unsafe {
        assert_eq!(
            pv_vault_header(vault, header.as_mut_ptr(), header.len(), &mut hn),
            pv_result::Ok
        );
        header.truncate(hn);
        assert_eq!(
            pv_login_key_from_header(header.as_ptr(), header.len(), pw.as_ptr(), &mut key),
            pv_result::Ok
        );
        assert_eq!(
            pv_login_key_from_recovery_key(rk_text.as_ptr(), &mut recovery),
            pv_result::Ok,
            "{}",
            last_error()
        );
        let bad = cstr("not a recovery key");
        let mut none: *mut pv_login_key = ptr::null_mut();
        assert_eq!(
            pv_login_key_from_recovery_key(bad.as_ptr(), &mut none),
            pv_result::InvalidRecoveryKey
        );
        assert!(none.is_null());

        // Rekey: the password key, and the recovery key when given; each
        // signs the same challenge for "rekey".
        let (r, rekey) = text(|b, l, n| {
            pv_rekey_request(
                key,
                recovery,
                challenge.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::Ok, "{}", last_error());
        let rekey: Value = serde_json::from_str(&rekey).unwrap();
        assert_eq!(rekey["account"], "alice");
        assert!(signed(
            &rekey,
            "passwordKey",
            "passwordSignature",
            protocol::Action::Rekey,
            protocol::KeyKind::Password
        ));
        assert!(signed(
            &rekey,
            "recoveryKey",
            "recoverySignature",
            protocol::Action::Rekey,
            protocol::KeyKind::Recovery
        ));
        assert!(!signed(
            &rekey,
            "recoveryKey",
            "recoverySignature",
            protocol::Action::Login,
            protocol::KeyKind::Recovery
        ));
        let (r, alone) = text(|b, l, n| {
            pv_rekey_request(
                key,
                ptr::null(),
                challenge.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::Ok);
        let alone: Value = serde_json::from_str(&alone).unwrap();
        assert!(alone.get("recoveryKey").is_none() && alone.get("recoverySignature").is_none());
        // The keys in the wrong places are refused, not signed with.
        for (k, rec) in [(recovery, ptr::null()), (key, key.cast_const())] {
            let (r, _) = text(|b, l, n| {
                pv_rekey_request(
                    k,
                    rec,
                    challenge.as_ptr(),
                    origin.as_ptr(),
                    account.as_ptr(),
                    b,
                    l,
                    n,
                )
            });
            assert_eq!(r, pv_result::InvalidInput);
        }
        let (r, _) = text(|b, l, n| {
            pv_register_request(
                recovery,
                challenge.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                header.as_ptr(),
                header.len(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::InvalidInput);

        // A login and a deletion carry the key's kind.
        let (r, login) = text(|b, l, n| {
            pv_login_request(
                recovery,
                challenge.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::Ok);
        let login: Value = serde_json::from_str(&login).unwrap();
        assert_eq!(login["key"], "recovery");
        for (k, kind, name) in [
            (key, protocol::KeyKind::Password, "password"),
            (recovery, protocol::KeyKind::Recovery, "recovery"),
        ] {
            let (r, del) = text(|b, l, n| {
                pv_delete_account_request(
                    k,
                    challenge.as_ptr(),
                    origin.as_ptr(),
                    account.as_ptr(),
                    b,
                    l,
                    n,
                )
            });
            assert_eq!(r, pv_result::Ok, "{}", last_error());
            let mut del: Value = serde_json::from_str(&del).unwrap();
            assert_eq!(del["key"], name);
            del["publicKey"] = if name == "password" {
                rekey["passwordKey"].clone()
            } else {
                rekey["recoveryKey"].clone()
            };
            assert!(signed(
                &del,
                "publicKey",
                "signature",
                protocol::Action::Delete,
                kind
            ));
            assert!(!signed(
                &del,
                "publicKey",
                "signature",
                protocol::Action::Login,
                kind
            ));
        }
        let (r, _) = text(|b, l, n| {
            pv_delete_account_request(
                ptr::null(),
                challenge.as_ptr(),
                origin.as_ptr(),
                account.as_ptr(),
                b,
                l,
                n,
            )
        });
        assert_eq!(r, pv_result::NullParameter);
        pv_login_key_free(key);
        pv_login_key_free(recovery);
        pv_vault_free(vault);
        pv_store_free(store);
    }
}

/// A pull outside a sync after the state's cursor; with no newer header in
/// its pages there is none to reopen with.
#[test]
#[cfg_attr(miri, ignore = "runs Argon2id")]
fn a_pull_for_the_newer_header_finds_none_in_an_empty_page_and_a_header_goes_alone_into_a_store() {
    let (store, vault, _) = vector_vault();
    let mut state: *mut pv_sync_state = ptr::null_mut();
    let mut dl: *mut pv_download = ptr::null_mut();
    // SAFETY: live handles, out-pointers and buffers; handles freed once.
    unsafe {
        assert_eq!(pv_sync_state_new(&mut state), pv_result::Ok);
        assert_eq!(pv_download_start_pull(vault, state, &mut dl), pv_result::Ok);
        let (r, body) = text(|b, l, n| pv_download_request_body(dl, b, l, n));
        assert_eq!(r, pv_result::Ok);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["after"], 0);
        let page = br#"{"status":"changes","changes":[],"cursor":0,"more":false}"#;
        let mut more = true;
        assert_eq!(
            pv_download_absorb(dl, 200, page.as_ptr(), page.len(), &mut more),
            pv_result::Ok,
            "{}",
            last_error()
        );
        assert!(!more);
        let mut hb = [0u8; 8];
        let mut n = 0usize;
        assert_eq!(
            pv_download_newer_header(dl, vault, hb.as_mut_ptr(), hb.len(), &mut n),
            pv_result::NotFound
        );
        assert_eq!(
            pv_download_newer_header(dl, ptr::null(), hb.as_mut_ptr(), hb.len(), &mut n),
            pv_result::NullParameter
        );
        pv_download_free(dl);
        pv_sync_state_free(state);
        // The header the vault was opened with goes into a store, alone.
        let mut fresh: *mut pv_store = ptr::null_mut();
        assert_eq!(pv_store_new(&mut fresh), pv_result::Ok);
        assert_eq!(pv_store_put_header(fresh, vault), pv_result::Ok);
        let (mut want, mut got) = (vec![0u8; 4096], vec![0u8; 4096]);
        let (mut wn, mut gn, mut count) = (0usize, 0usize, 9usize);
        assert_eq!(
            pv_vault_header(vault, want.as_mut_ptr(), want.len(), &mut wn),
            pv_result::Ok
        );
        assert_eq!(
            pv_store_header(fresh, got.as_mut_ptr(), got.len(), &mut gn),
            pv_result::Ok
        );
        assert_eq!(got[..gn], want[..wn]);
        assert_eq!(pv_store_record_count(fresh, &mut count), pv_result::Ok);
        assert_eq!(count, 0);
        assert_eq!(
            pv_store_put_header(fresh, ptr::null()),
            pv_result::NullParameter
        );
        pv_store_free(fresh);
        pv_vault_free(vault);
        pv_store_free(store);
    }
}
