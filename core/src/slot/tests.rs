// Test code: unwrap/expect/indexing/panic are how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::aes::cipher::BlockCipherEncrypt;
use aes_gcm::{Aes256Gcm, Nonce, Tag};

use super::*;
use crate::argon::{self, Password};
use crate::format::{HEADER_LEN, KDF_BLOCK_LEN, RecordKind, SEAL_LEN};
use crate::header::{Credential, KeyHeader};
use crate::kdf::KdfParams;

/// Known answers, computed independently with Python's
/// `hashlib.blake2b(label + b"\0" + aad, key=kek, digest_size=32)`.
#[test]
fn derivations_match_keyed_blake2b_256() {
    let kek = Key::from_bytes(core::array::from_fn(|i| i as u8));
    let aad = b"PVLT\x01\x01\x01";
    assert_eq!(
        crate::ids::hex_encode(derive_slot_key(&kek, aad).unwrap().expose_secret()),
        "917dbe004742de16225ecefb1b2a756353463cdfd927d1cf54971669d9efe9a0"
    );
    assert_eq!(
        crate::ids::hex_encode(&derive_commitment(&kek, aad).unwrap()),
        "4c48361c1cba7bc72bfa39205ebb4d40a4104e6bcda879c2a9f55cfa57624e9d"
    );
}

#[test]
fn wrap_unwrap_and_every_flip_fails() {
    let kek = Key::generate().unwrap();
    let key = Key::generate().unwrap();
    let slot = wrap(&kek, b"aad", &key).unwrap();
    assert_eq!(unwrap(&kek, b"aad", &slot).unwrap(), key);
    assert_eq!(unwrap(&kek, b"aae", &slot), Err(Error::Authentication));
    let other = Key::generate().unwrap();
    assert_eq!(unwrap(&other, b"aad", &slot), Err(Error::Authentication));
    for i in 0..slot.len() {
        let mut bad = slot;
        bad[i] ^= 1;
        assert_eq!(
            unwrap(&kek, b"aad", &bad),
            Err(Error::Authentication),
            "{i}"
        );
    }
}

// ---------------------------------------------------------------------------
// A real AES-256-GCM multi-key collision.
//
// GCM's tag is T = E_K(J0) ⊕ GHASH_H(A, C) with H = E_K(0^128), and GHASH is
// a polynomial in H over GF(2^128) whose coefficients are the blocks of A,
// C and the length block. For two keys K1, K2 and one nonce, fix every
// ciphertext block but the last, C_n; it enters GHASH_Hi with coefficient
// H_i^2 (only the length block follows it), so
//   T_i = H_i^2 · C_n ⊕ R_i      (R_i: everything else, incl. E_Ki(J0)),
// and T_1 = T_2 is one linear equation: C_n = (R_1 ⊕ R_2) / (H_1^2 ⊕ H_2^2).

/// GF(2^128) multiplication in GCM's bit order (NIST SP 800-38D, Alg. 1):
/// a block read big-endian, its most significant bit the coefficient of x^0.
fn gf_mul(x: u128, y: u128) -> u128 {
    const R: u128 = 0xE1 << 120;
    let mut z = 0u128;
    let mut v = y;
    for i in 0..128 {
        if (x >> (127 - i)) & 1 == 1 {
            z ^= v;
        }
        v = if v & 1 == 1 { (v >> 1) ^ R } else { v >> 1 };
    }
    z
}

/// The multiplicative identity (x^0) in GCM's bit order.
const ONE: u128 = 1 << 127;

/// x^(2^128 - 2) = x^-1 for x ≠ 0.
fn gf_inv(x: u128) -> u128 {
    assert_ne!(x, 0);
    let mut result = ONE;
    let mut base = x;
    // 2^128 - 2 = 0b111…110: every bit set but bit 0.
    for bit in 0..128 {
        if bit != 0 {
            result = gf_mul(result, base);
        }
        base = gf_mul(base, base);
    }
    result
}

fn aes_block(key: &[u8; 32], block: [u8; 16]) -> u128 {
    let cipher = Aes256::new(key.into());
    let mut b = block.into();
    cipher.encrypt_block(&mut b);
    u128::from_be_bytes(b.into())
}

fn blocks(data: &[u8]) -> Vec<u128> {
    data.chunks(16)
        .map(|c| {
            let mut b = [0u8; 16];
            b[..c.len()].copy_from_slice(c);
            u128::from_be_bytes(b)
        })
        .collect()
}

fn ghash(h: u128, aad: &[u8], ct: &[u8]) -> u128 {
    let len = ((aad.len() as u128 * 8) << 64) | (ct.len() as u128 * 8);
    let mut x = 0u128;
    for b in blocks(aad).into_iter().chain(blocks(ct)).chain([len]) {
        x = gf_mul(x ^ b, h);
    }
    x
}

fn gcm_tag(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], ct: &[u8]) -> u128 {
    let mut j0 = [0u8; 16];
    j0[..12].copy_from_slice(nonce);
    j0[15] = 1;
    aes_block(key, j0) ^ ghash(aes_block(key, [0; 16]), aad, ct)
}

/// A ciphertext (`ct_len` bytes, a multiple of 16) and tag that open under
/// both keys with this nonce and associated data.
fn collide(k1: &[u8; 32], k2: &[u8; 32], nonce: &[u8; 12], aad: &[u8], ct_len: usize) -> Vec<u8> {
    assert!(ct_len >= 16 && ct_len.is_multiple_of(16));
    // Every block but the last is free: any bytes will do.
    let mut ct: Vec<u8> = (0..ct_len).map(|i| (i * 37 + 11) as u8).collect();
    ct[ct_len - 16..].fill(0);
    let h1 = aes_block(k1, [0; 16]);
    let h2 = aes_block(k2, [0; 16]);
    let r1 = gcm_tag(k1, nonce, aad, &ct);
    let r2 = gcm_tag(k2, nonce, aad, &ct);
    let last = gf_mul(r1 ^ r2, gf_inv(gf_mul(h1, h1) ^ gf_mul(h2, h2)));
    ct[ct_len - 16..].copy_from_slice(&last.to_be_bytes());
    let t1 = gcm_tag(k1, nonce, aad, &ct);
    assert_eq!(t1, gcm_tag(k2, nonce, aad, &ct), "the tags must collide");
    ct.extend_from_slice(&t1.to_be_bytes());
    ct
}

/// Opens with the `aes-gcm` crate itself (not our wrapper, not our GHASH).
fn aes_gcm_open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], ct_tag: &[u8]) -> Option<Vec<u8>> {
    let (ct, tag) = ct_tag.split_at(ct_tag.len() - 16);
    let mut buf = ct.to_vec();
    let tag: [u8; 16] = tag.try_into().unwrap();
    Aes256Gcm::new(key.into())
        .decrypt_inout_detached(
            &Nonce::from(*nonce),
            aad,
            buf.as_mut_slice().into(),
            &Tag::from(tag),
        )
        .ok()
        .map(|()| buf)
}

#[test]
fn gf_arithmetic_is_a_field() {
    let a = 0x0388_dace_60b6_a392_f328_c2b9_71b2_fe78_u128;
    let b = 0x66e9_4bd4_ef8a_2c3b_884c_fa59_ca34_2b2e_u128;
    assert_eq!(gf_mul(a, ONE), a);
    assert_eq!(gf_mul(a, b), gf_mul(b, a));
    assert_eq!(gf_mul(a, gf_inv(a)), ONE);
    assert_eq!(gf_mul(gf_mul(a, b), gf_inv(b)), a);
    // Our GHASH reproduces the crate's tags on an ordinary message.
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    let mut buf = b"thirty-two bytes of plaintext..!".to_vec();
    let tag = Aes256Gcm::new((&key).into())
        .encrypt_inout_detached(&Nonce::from(nonce), b"ad", buf.as_mut_slice().into())
        .unwrap();
    assert_eq!(
        gcm_tag(&key, &nonce, b"ad", &buf).to_be_bytes(),
        <[u8; 16]>::from(tag)
    );
}

#[test]
fn a_real_multi_key_collision_opens_under_both_keys() {
    let (k1, k2) = ([0x11u8; 32], [0x22u8; 32]);
    let nonce = [0x33u8; 12];
    let ct = collide(&k1, &k2, &nonce, b"any associated data", 64);
    let p1 = aes_gcm_open(&k1, &nonce, b"any associated data", &ct).expect("opens under K1");
    let p2 = aes_gcm_open(&k2, &nonce, b"any associated data", &ct).expect("opens under K2");
    assert_ne!(p1, p2, "one ciphertext, two keys, two plaintexts");
    assert!(aes_gcm_open(&[0x44; 32], &nonce, b"any associated data", &ct).is_none());
}

/// Places a two-key collision in the password slot of a real vault header:
/// the AEAD alone accepts the slot under the KEKs of two passwords, and the
/// reader refuses every password but the one the commitment names.
#[test]
fn a_colliding_password_slot_is_refused_by_the_commitment() {
    let params = KdfParams::new(KdfParams::MIN_M_COST_KIB, 1, 1).unwrap();
    let (pw1, pw2) = (
        Password::new("first password").unwrap(),
        Password::new("second password").unwrap(),
    );
    let vault = crate::Vault::create(&pw1, params).unwrap().vault;
    let original = KeyHeader::parse(vault.header_bytes(), RecordKind::VaultHeader).unwrap();
    let aad = original.password_aad();
    let kek1 = argon::derive_kek(&pw1, &original.salt, params).unwrap();
    let kek2 = argon::derive_kek(&pw2, &original.salt, params).unwrap();
    let k1 = *derive_slot_key(&kek1, &aad).unwrap().expose_secret();
    let k2 = *derive_slot_key(&kek2, &aad).unwrap().expose_secret();
    let nonce = [0x5au8; 12];
    let ct = collide(&k1, &k2, &nonce, &aad, 32);
    // The AEAD alone accepts the slot under both passwords' keys…
    let vk1 = Key::from_slice(&aes_gcm_open(&k1, &nonce, &aad, &ct).unwrap()).unwrap();
    let vk2 = Key::from_slice(&aes_gcm_open(&k2, &nonce, &aad, &ct).unwrap()).unwrap();
    assert_ne!(vk1, vk2);

    // …so build the header a hostile server would serve: the colliding slot,
    // committed to `commit_to`'s KEK, and a header seal under that VK.
    let forge = |commit_to: &Key, vk: &Key| -> KeyHeader {
        let mut bytes = original.bytes.clone();
        let at = HEADER_LEN + KDF_BLOCK_LEN;
        let mut slot = derive_commitment(commit_to, &aad).unwrap().to_vec();
        slot.extend_from_slice(&nonce);
        slot.extend_from_slice(&ct);
        bytes[at..at + COMMITTED_SLOT_LEN].copy_from_slice(&slot);
        let split = bytes.len() - SEAL_LEN;
        let seal = hazmat::aead::seal(vk, &bytes[..split], &[]).unwrap();
        bytes[split..].copy_from_slice(&seal);
        KeyHeader::parse(&bytes, RecordKind::VaultHeader).unwrap()
    };
    let slot_of = |h: &KeyHeader| h.password_slot;

    let h1 = forge(&kek1, &vk1);
    // The slot's AEAD part opens under both derived keys (checked through
    // our own AEAD wrapper too): without the commitment, both would pass.
    let sealed = &slot_of(&h1)[COMMITMENT_LEN..];
    assert!(hazmat::aead::open(&Key::from_bytes(k1), &aad, sealed).is_ok());
    assert!(hazmat::aead::open(&Key::from_bytes(k2), &aad, sealed).is_ok());
    // The reader: the committed password unlocks, the other is refused with
    // the one opaque error, at the commitment (before the AEAD is opened).
    assert_eq!(h1.unlock(&Credential::Password(&pw1)).unwrap().vk, vk1);
    assert_eq!(
        unwrap(&kek2, &aad, &slot_of(&h1)).unwrap_err(),
        Error::Authentication
    );
    assert_eq!(
        h1.unlock(&Credential::Password(&pw2)).err(),
        Some(Error::Authentication)
    );

    // The same ciphertext committed to the second KEK: now only the second
    // password unlocks. The commitment alone decides which one.
    let h2 = forge(&kek2, &vk2);
    assert_eq!(h2.unlock(&Credential::Password(&pw2)).unwrap().vk, vk2);
    assert_eq!(
        h2.unlock(&Credential::Password(&pw1)).err(),
        Some(Error::Authentication)
    );
}
