//! Rust-side tests of the C ABI, small enough for miri
//! (`cargo +nightly miri test -p promptvault-ffi`): they call the exported
//! functions through raw pointers exactly as C does, so miri checks every
//! pointer the boundary reads or writes. Tests that run Argon2 are skipped
//! under miri (the C tests cover them under valgrind and ASan).
#![allow(
    unsafe_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use promptvault::ErrorCode;
use promptvault::format::text;
use promptvault_ffi::*;
use serde_json::Value;

/// A frozen vector, compiled in (miri runs isolated from the file system).
fn vector(name: &str) -> Value {
    let text = match name {
        "inspect_meta.json" => include_str!("../../core/tests/vectors/inspect_meta.json"),
        "inspect_header.json" => include_str!("../../core/tests/vectors/inspect_header.json"),
        "fail_inspect_newer_version.json" => {
            include_str!("../../core/tests/vectors/fail_inspect_newer_version.json")
        }
        "vault_password.json" => include_str!("../../core/tests/vectors/vault_password.json"),
        other => panic!("no vector {other} compiled in"),
    };
    serde_json::from_str(text).unwrap()
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Reads a NUL-terminated result and checks `out_len` counted the NUL.
fn text_of(buf: &[u8], out_len: usize) -> String {
    let s = CStr::from_bytes_until_nul(buf).unwrap().to_str().unwrap();
    assert_eq!(s.len() + 1, out_len);
    s.to_owned()
}

#[test]
fn codes_names_and_messages() {
    let mut buf = [0u8; 256];
    let mut n = 0usize;
    for code in ErrorCode::ALL {
        // SAFETY: `buf` and `n` are live and writable for the call.
        let r = unsafe {
            pv_result_name(
                code.as_u32(),
                buf.as_mut_ptr().cast::<c_char>(),
                buf.len(),
                &mut n,
            )
        };
        assert_eq!(r, pv_result::Ok);
        assert_eq!(text_of(&buf, n), code.name());
        assert_eq!(pv_result::from_code(code) as u32, code.as_u32());
    }
    // SAFETY: as above.
    let r = unsafe { pv_result_message(42, buf.as_mut_ptr().cast(), buf.len(), &mut n) };
    assert_eq!(r, pv_result::InvalidInput);
}

#[test]
fn null_and_small_buffers_write_nothing() {
    let mut n = 7usize;
    // SAFETY: NULL is what is being tested; `n` is writable.
    let r = unsafe { pv_result_message(1, ptr::null_mut(), 10, &mut n) };
    assert_eq!(r, pv_result::NullParameter);
    assert_eq!(n, 7);
    let mut out: *mut pv_store = ptr::null_mut();
    // SAFETY: NULL bundle is the case under test; `out` is writable.
    let r = unsafe { pv_store_from_bundle(ptr::null(), 3, &mut out) };
    assert_eq!(r, pv_result::NullParameter);
    assert!(out.is_null());
    let mut small = [b'X'; 4];
    // SAFETY: `small` holds 4 writable bytes, as passed.
    let r = unsafe { pv_result_message(1, small.as_mut_ptr().cast(), small.len(), &mut n) };
    assert_eq!(r, pv_result::BufferTooSmall);
    assert_eq!(small, [b'X'; 4]);
    assert_eq!(n, ErrorCode::Authentication.message().len() + 1);
    // A size probe: NULL with length 0.
    n = 0;
    // SAFETY: a NULL buffer of length 0 is a probe; `n` is writable.
    let r = unsafe { pv_result_message(1, ptr::null_mut(), 0, &mut n) };
    assert_eq!(r, pv_result::BufferTooSmall);
    assert_eq!(n, ErrorCode::Authentication.message().len() + 1);
    // Neither failure replaced the last error (the NULL bundle): the
    // functions that describe codes and read the message leave it alone.
    // SAFETY: a NULL buffer of length 0 is a probe; `n` is writable.
    let r = unsafe { pv_last_error_message(ptr::null_mut(), 0, &mut n) };
    assert_eq!(r, pv_result::BufferTooSmall);
    let mut msg = vec![0u8; n];
    // SAFETY: `msg` is live and writable.
    let r = unsafe { pv_last_error_message(msg.as_mut_ptr().cast(), msg.len(), &mut n) };
    assert_eq!(r, pv_result::Ok);
    assert_eq!(n, msg.len());
    assert!(
        text_of(&msg, n).contains("`bundle` is NULL"),
        "{}",
        text_of(&msg, n)
    );
    // SAFETY: every free accepts NULL.
    unsafe {
        pv_vault_free(ptr::null_mut());
        pv_store_free(ptr::null_mut());
        pv_changeset_free(ptr::null_mut());
        pv_bytes_free(ptr::null_mut());
    }
}

#[test]
fn inspect_vectors_through_the_abi() {
    for name in ["inspect_meta.json", "inspect_header.json"] {
        let case = vector(name);
        let record = cstr(case["record"].as_str().unwrap());
        let mut buf = vec![0u8; 1024];
        let mut n = 0usize;
        // SAFETY: `record` is NUL-terminated; `buf` and `n` are writable.
        let r =
            unsafe { pv_inspect_text(record.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut n) };
        assert_eq!(r, pv_result::Ok, "{name}");
        let got: Value = serde_json::from_str(&text_of(&buf, n)).unwrap();
        assert_eq!(got, case["expect"], "{name}");
    }
    let case = vector("fail_inspect_newer_version.json");
    let record = text::decode(case["record"].as_str().unwrap()).unwrap();
    let mut buf = [0u8; 16];
    let mut n = 0usize;
    // SAFETY: `record` is readable for its length; `buf`, `n` writable.
    let r = unsafe {
        pv_inspect(
            record.as_ptr(),
            record.len(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut n,
        )
    };
    assert_eq!(r, pv_result::UnsupportedVersion);
}

/// The vector vault as a bundle (header, then records in storage-key order).
fn vector_bundle() -> (Vec<u8>, usize) {
    let case = vector("vault_password.json");
    let mut bundle = text::decode(case["header"].as_str().unwrap()).unwrap();
    let records = case["records"].as_array().unwrap();
    for r in records {
        bundle.extend(text::decode(r.as_str().unwrap()).unwrap());
    }
    (bundle, records.len())
}

#[test]
fn bundle_round_trip_through_a_store() {
    let (bundle, count) = vector_bundle();
    let mut store: *mut pv_store = ptr::null_mut();
    // SAFETY: `bundle` is readable for its length; `store` is writable.
    let r = unsafe { pv_store_from_bundle(bundle.as_ptr(), bundle.len(), &mut store) };
    assert_eq!(r, pv_result::Ok);
    let mut n = 0usize;
    // SAFETY: `store` is the live handle just made; `n` is writable.
    let r = unsafe { pv_store_record_count(store, &mut n) };
    assert_eq!(r, pv_result::Ok);
    assert_eq!(n, count);
    let mut out = vec![0u8; bundle.len()];
    // SAFETY: `out` holds `bundle.len()` writable bytes.
    let r = unsafe { pv_store_bundle(store, out.as_mut_ptr(), out.len(), &mut n) };
    assert_eq!(r, pv_result::Ok);
    assert_eq!(n, bundle.len());
    assert_eq!(out, bundle);
    // SAFETY: one byte short: must fail without writing.
    let r = unsafe { pv_store_bundle(store, out.as_mut_ptr(), out.len() - 1, &mut n) };
    assert_eq!(r, pv_result::BufferTooSmall);
    assert_eq!(n, bundle.len());
    // SAFETY: `store` came from this library and is not used again.
    unsafe { pv_store_free(store) };
}

#[test]
#[cfg_attr(miri, ignore = "runs Argon2id")]
fn open_a_vector_vault_and_query_it() {
    let (bundle, _) = vector_bundle();
    let case = vector("vault_password.json");
    let password = cstr(case["password"].as_str().unwrap());
    let mut store: *mut pv_store = ptr::null_mut();
    let mut vault: *mut pv_vault = ptr::null_mut();
    // SAFETY: live buffers and out-pointers throughout; handles are freed once.
    unsafe {
        assert_eq!(
            pv_store_from_bundle(bundle.as_ptr(), bundle.len(), &mut store),
            pv_result::Ok
        );
        assert_eq!(
            pv_vault_open_store(store, PV_CREDENTIAL_PASSWORD, password.as_ptr(), &mut vault),
            pv_result::Ok
        );
        assert_eq!(pv_vault_verify(vault), pv_result::Ok);
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0usize;
        let q = cstr(r#"{"archived":"include"}"#);
        assert_eq!(
            pv_vault_list(
                vault,
                q.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut n
            ),
            pv_result::Ok
        );
        let list: Value = serde_json::from_str(&text_of(&buf, n)).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2);
        let wrong = cstr("not the password");
        let mut other: *mut pv_vault = ptr::null_mut();
        assert_eq!(
            pv_vault_open_store(store, PV_CREDENTIAL_PASSWORD, wrong.as_ptr(), &mut other),
            pv_result::Authentication
        );
        assert!(other.is_null());
        pv_vault_free(vault);
        pv_store_free(store);
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs Argon2id")]
fn a_mutation_gives_a_changeset_and_no_partial_success() {
    let params = pv_kdf_params {
        m_cost_kib: 19456,
        t_cost: 1,
        p_cost: 1,
    };
    let password = cstr("pw");
    let mut rk = [0u8; PV_RECOVERY_KEY_BUF_LEN];
    let mut vault: *mut pv_vault = ptr::null_mut();
    let mut cs: *mut pv_changeset = ptr::null_mut();
    // SAFETY: live buffers and out-pointers throughout; handles are freed once.
    unsafe {
        assert_eq!(
            pv_vault_create(
                password.as_ptr(),
                &params,
                rk.as_mut_ptr().cast(),
                rk.len(),
                &mut vault,
                &mut cs
            ),
            pv_result::Ok
        );
        pv_changeset_free(cs);
        let draft = cstr(r#"{"title":"t","body":"b"}"#);
        let tags = cstr(r#"["x"]"#);
        let mut id = [0u8; PV_ID_BUF_LEN];
        cs = ptr::null_mut();
        assert_eq!(
            pv_vault_create_prompt(
                vault,
                draft.as_ptr(),
                tags.as_ptr(),
                true,
                5,
                id.as_mut_ptr().cast(),
                PV_ID_BUF_LEN - 1,
                &mut cs
            ),
            pv_result::BufferTooSmall
        );
        assert!(cs.is_null());
        let mut count = 9usize;
        assert_eq!(pv_vault_prompt_count(vault, &mut count), pv_result::Ok);
        assert_eq!(count, 0);
        assert_eq!(
            pv_vault_create_prompt(
                vault,
                draft.as_ptr(),
                tags.as_ptr(),
                true,
                5,
                id.as_mut_ptr().cast(),
                id.len(),
                &mut cs
            ),
            pv_result::Ok
        );
        assert_eq!(pv_changeset_put_count(cs, &mut count), pv_result::Ok);
        assert_eq!(count, 3);
        let mut key = [0u8; 128];
        let mut n = 0usize;
        assert_eq!(
            pv_changeset_put_storage_key(cs, 2, key.as_mut_ptr().cast(), key.len(), &mut n),
            pv_result::Ok
        );
        let id_text = text_of(&id, PV_ID_BUF_LEN);
        assert!(text_of(&key, n).starts_with(&format!("v.{id_text}.")));
        pv_changeset_free(cs);
        pv_vault_free(vault);
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs Argon2id")]
fn damaged_prompts_are_listed_as_core_lists_them() {
    use promptvault::{Credential, Draft, KdfParams, MemoryStore, Password, Timestamp, Vault};
    let pw = Password::new("pw").unwrap();
    let created = Vault::create(&pw, KdfParams::new(19456, 1, 1).unwrap()).unwrap();
    let mut core = created.vault;
    let mut s = MemoryStore::new();
    s.apply(&created.changes);
    let draft = Draft {
        title: "bad".into(),
        ..Draft::default()
    };
    let (bad, c) = core
        .create_prompt(&draft, &[], false, Timestamp(1))
        .unwrap();
    s.apply(&c);
    let mut meta: Value = serde_json::from_slice(&core.meta_json_for_tests(bad).unwrap()).unwrap();
    meta["tags"] = serde_json::json!([""]);
    s.apply(
        &core
            .unchecked_meta_for_tests(bad, &serde_json::to_vec(&meta).unwrap())
            .unwrap(),
    );
    let want = Vault::open(
        s.header().unwrap(),
        s.record_bytes(),
        Credential::Password(&pw),
    )
    .unwrap()
    .damaged_prompts();
    assert_eq!(want.len(), 1);

    let header = s.header().unwrap();
    let records = s.record_bytes();
    let ptrs: Vec<*const u8> = records.iter().map(|r| r.as_ptr()).collect();
    let lens: Vec<usize> = records.iter().map(|r| r.len()).collect();
    let secret = cstr("pw");
    let mut vault: *mut pv_vault = ptr::null_mut();
    // SAFETY: live buffers and out-pointers throughout; the handle is freed once.
    unsafe {
        assert_eq!(
            pv_vault_open(
                header.as_ptr(),
                header.len(),
                ptrs.as_ptr(),
                lens.as_ptr(),
                ptrs.len(),
                PV_CREDENTIAL_PASSWORD,
                secret.as_ptr(),
                &mut vault
            ),
            pv_result::Ok
        );
        let mut count = 9usize;
        assert_eq!(pv_vault_damaged_count(vault, &mut count), pv_result::Ok);
        assert_eq!(count, 1);
        assert_eq!(pv_vault_prompt_count(vault, &mut count), pv_result::Ok);
        assert_eq!(count, 0);

        let mut id = [0u8; PV_ID_BUF_LEN];
        let mut code = pv_result::Ok;
        let mut versions = 0usize;
        // Too small an id buffer, and an index past the end: nothing written.
        assert_eq!(
            pv_vault_damaged_at(
                vault,
                0,
                id.as_mut_ptr().cast(),
                PV_ID_BUF_LEN - 1,
                &mut code,
                &mut versions
            ),
            pv_result::BufferTooSmall
        );
        assert_eq!(
            pv_vault_damaged_at(
                vault,
                1,
                id.as_mut_ptr().cast(),
                id.len(),
                &mut code,
                &mut versions
            ),
            pv_result::NotFound
        );
        assert_eq!((code, versions, id[0]), (pv_result::Ok, 0, 0));
        assert_eq!(
            pv_vault_damaged_at(
                vault,
                0,
                id.as_mut_ptr().cast(),
                id.len(),
                &mut code,
                &mut versions
            ),
            pv_result::Ok
        );
        assert_eq!(text_of(&id, PV_ID_BUF_LEN), want[0].id.to_hex());
        assert_eq!(code, pv_result::from_code(want[0].reason.code()));
        assert_eq!(versions, want[0].versions);

        let mut buf = [0u8; 512];
        let mut n = 0usize;
        assert_eq!(
            pv_vault_damaged_reason(vault, 1, buf.as_mut_ptr().cast(), buf.len(), &mut n),
            pv_result::NotFound
        );
        assert_eq!(
            pv_vault_damaged_reason(vault, 0, buf.as_mut_ptr().cast(), 1, &mut n),
            pv_result::BufferTooSmall
        );
        assert_eq!(n, want[0].reason.to_string().len() + 1);
        assert_eq!(
            pv_vault_damaged_reason(vault, 0, buf.as_mut_ptr().cast(), buf.len(), &mut n),
            pv_result::Ok
        );
        assert_eq!(text_of(&buf, n), want[0].reason.to_string());
        pv_vault_free(vault);
    }
}
