//! Sharing suite 1 (SPEC §13): HPKE (RFC 9180) mode base with X-Wing,
//! HKDF-SHA256 and ChaCha20-Poly1305, with randomness the core draws
//! itself — so a failing system generator is [`Error::Randomness`], never
//! a panic inside the HPKE crate.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::XWing;
use hpke::rand_core::{TryCryptoRng, TryRng, utils};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// The KEM of suite 1.
pub(crate) type Kem = XWing;
/// The KEM's private key (the 32-byte X-Wing seed; zeroized on drop).
pub(crate) type KemPrivateKey = <XWing as hpke::Kem>::PrivateKey;
/// The KEM's public key.
pub(crate) type KemPublicKey = <XWing as hpke::Kem>::PublicKey;

/// Bytes of randomness one X-Wing encapsulation draws.
pub(crate) const ENCAP_RANDOMNESS_LEN: usize = 64;

/// A generator that hands out bytes drawn beforehand, and notes it if more
/// are asked for than it holds (the caller then discards the result).
pub(crate) struct DrawnRng {
    bytes: Zeroizing<Vec<u8>>,
    used: usize,
    overdrawn: bool,
}

impl DrawnRng {
    /// A generator over `bytes`.
    pub(crate) fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        DrawnRng {
            bytes,
            used: 0,
            overdrawn: false,
        }
    }

    /// Whether a caller asked for more bytes than were drawn.
    pub(crate) fn overdrawn(&self) -> bool {
        self.overdrawn
    }
}

impl TryRng for DrawnRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Self::Error> {
        utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Self::Error> {
        utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> core::result::Result<(), Self::Error> {
        match self.bytes.get(self.used..self.used + dest.len()) {
            Some(src) => {
                dest.copy_from_slice(src);
                self.used += dest.len();
            }
            None => {
                dest.zeroize();
                self.overdrawn = true;
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for DrawnRng {}

/// The private key for an X-Wing seed, and its public key.
pub(crate) fn keypair(seed: &[u8; 32]) -> Result<(KemPrivateKey, KemPublicKey)> {
    let sk = KemPrivateKey::from_bytes(seed).map_err(|_| Error::invalid("X-Wing seed"))?;
    let pk = XWing::sk_to_pk(&sk);
    Ok((sk, pk))
}

/// Parses an X-Wing public key (the ML-KEM part is checked for a canonical
/// encoding).
pub(crate) fn public_key(bytes: &[u8]) -> Result<KemPublicKey> {
    KemPublicKey::from_bytes(bytes).map_err(|_| Error::malformed("X-Wing public key"))
}

/// `SealBase(pkR, info, aad, pt)` with randomness from `rng`; returns
/// `(enc, ct)`.
pub(crate) fn seal_with(
    pk: &KemPublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut DrawnRng,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let (enc, ct) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeS::Base,
        pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| Error::invalid("HPKE seal"))?;
    if rng.overdrawn() {
        return Err(Error::Randomness);
    }
    Ok((enc.to_bytes().to_vec(), ct))
}

/// `OpenBase(enc, skR, info, aad, ct)`.
///
/// # Errors
///
/// [`Error::Authentication`] for any failure (opaque).
pub(crate) fn open(
    sk: &KemPrivateKey,
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let enc =
        <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| Error::Authentication)?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Base,
        sk,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| Error::Authentication)
}

/// Known-answer tests against published vectors, kept in this repository
/// (`core/tests/data/kat/`): RFC 9180 A.2.1 (the key schedule and AEAD of
/// our suite, with DHKEM(X25519)), the draft-ietf-hpke-pq vector of our
/// exact suite (X-Wing, HKDF-SHA256, ChaCha20-Poly1305), and the X-Wing
/// draft's own KEM vectors.
#[cfg(test)]
mod kat {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use hpke::kem::X25519HkdfSha256;
    use serde_json::Value;

    use super::*;

    const RFC9180_A21: &str =
        include_str!("../../tests/data/kat/rfc9180-a2-1-x25519-hkdfsha256-chacha20poly1305.json");
    const HPKE_PQ_XWING: &str =
        include_str!("../../tests/data/kat/hpke-xwing-hkdfsha256-chacha20poly1305.json");
    const XWING_DRAFT: &str = include_str!("../../tests/data/kat/xwing-draft-kem.json");

    fn hex(v: &Value) -> Vec<u8> {
        let s = v.as_str().expect("hex string");
        assert!(s.len().is_multiple_of(2), "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
            .collect()
    }

    fn rng(v: &Value) -> DrawnRng {
        DrawnRng::new(Zeroizing::new(hex(v)))
    }

    /// Seals every listed encryption in order from one sender context
    /// (nonces advance by sequence number), checks the ciphertexts, then
    /// opens them in order from one receiver context.
    fn check_base_vector<K: hpke::Kem>(v: &Value, sk: &K::PrivateKey, pk: &K::PublicKey) {
        let info = hex(&v["info"]);
        let mut eph = rng(&v["ikmE"]);
        let (enc, mut sender) = hpke::setup_sender_with_rng::<ChaCha20Poly1305, HkdfSha256, K>(
            &OpModeS::Base,
            pk,
            &info,
            &mut eph,
        )
        .unwrap();
        assert!(!eph.overdrawn(), "the KEM drew more than ikmE");
        assert_eq!(enc.to_bytes().as_slice(), hex(&v["enc"]).as_slice(), "enc");
        let encryptions = v["encryptions"].as_array().unwrap();
        assert!(!encryptions.is_empty());
        for e in encryptions {
            let ct = sender.seal(&hex(&e["pt"]), &hex(&e["aad"])).unwrap();
            assert_eq!(ct, hex(&e["ct"]), "ct");
        }
        let enc = K::EncappedKey::from_bytes(&hex(&v["enc"])).unwrap();
        let mut receiver = hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, K>(
            &OpModeR::Base,
            sk,
            &enc,
            &info,
        )
        .unwrap();
        for e in encryptions {
            let pt = receiver.open(&hex(&e["ct"]), &hex(&e["aad"])).unwrap();
            assert_eq!(pt, hex(&e["pt"]), "pt");
        }
        if let Some(exports) = v["exports"].as_array() {
            for x in exports {
                let mut out = vec![0u8; usize::try_from(x["L"].as_u64().unwrap()).unwrap()];
                receiver
                    .export(&hex(&x["exporter_context"]), &mut out)
                    .unwrap();
                assert_eq!(out, hex(&x["exported_value"]), "export");
            }
        }
    }

    #[test]
    fn rfc9180_a_2_1_base_x25519_hkdf_sha256_chacha20poly1305() {
        let v: Value = serde_json::from_str(RFC9180_A21).unwrap();
        assert_eq!(
            (v["kdf_id"].as_u64(), v["aead_id"].as_u64()),
            (Some(1), Some(3))
        );
        // The appendix prints DeriveKeyPair's output as expanded; the crate
        // serialises an X25519 scalar clamped (RFC 7748 §5), the same key.
        let clamped = |v: &Value| {
            let mut k = hex(v);
            k[0] &= 248;
            k[31] = (k[31] & 127) | 64;
            k
        };
        let (sk, pk) = X25519HkdfSha256::derive_keypair(&hex(&v["ikmR"]));
        assert_eq!(sk.to_bytes().as_slice(), clamped(&v["skRm"]).as_slice());
        assert_eq!(pk.to_bytes().as_slice(), hex(&v["pkRm"]).as_slice());
        let (ske, pke) = X25519HkdfSha256::derive_keypair(&hex(&v["ikmE"]));
        assert_eq!(ske.to_bytes().as_slice(), clamped(&v["skEm"]).as_slice());
        assert_eq!(pke.to_bytes().as_slice(), hex(&v["pkEm"]).as_slice());
        check_base_vector::<X25519HkdfSha256>(&v, &sk, &pk);
    }

    /// Our exact suite, through our own wrapper too: `seal_with` with the
    /// vector's encapsulation randomness gives its `enc` and first `ct`,
    /// and `open` reverses it.
    #[test]
    fn hpke_pq_base_xwing_hkdf_sha256_chacha20poly1305() {
        let v: Value = serde_json::from_str(HPKE_PQ_XWING).unwrap();
        assert_eq!(
            (
                v["kem_id"].as_u64(),
                v["kdf_id"].as_u64(),
                v["aead_id"].as_u64()
            ),
            (Some(0x647a), Some(1), Some(3))
        );
        assert_eq!(<Kem as hpke::Kem>::KEM_ID, 0x647a);
        let (sk, pk) = Kem::derive_keypair(&hex(&v["ikmR"]));
        assert_eq!(sk.to_bytes().as_slice(), hex(&v["skRm"]).as_slice());
        assert_eq!(pk.to_bytes().as_slice(), hex(&v["pkRm"]).as_slice());
        // The X-Wing private key is its seed: our keypair() agrees.
        let seed: [u8; 32] = hex(&v["skRm"]).try_into().unwrap();
        let (sk2, pk2) = keypair(&seed).unwrap();
        assert!(sk2 == sk && pk2 == pk);
        check_base_vector::<Kem>(&v, &sk, &pk);

        let e0 = &v["encryptions"][0];
        let info = hex(&v["info"]);
        let (enc, ct) = seal_with(
            &pk,
            &info,
            &hex(&e0["aad"]),
            &hex(&e0["pt"]),
            &mut rng(&v["ikmE"]),
        )
        .unwrap();
        assert_eq!(enc, hex(&v["enc"]));
        assert_eq!(ct, hex(&e0["ct"]));
        let pt = open(&sk, &enc, &info, &hex(&e0["aad"]), &ct).unwrap();
        assert_eq!(pt.as_slice(), hex(&e0["pt"]).as_slice());
        // Randomness short of 64 bytes is refused, not used.
        let short = DrawnRng::new(Zeroizing::new(vec![7u8; ENCAP_RANDOMNESS_LEN - 1]));
        assert_eq!(
            seal_with(&pk, &info, b"", b"x", &mut { short }).unwrap_err(),
            Error::Randomness
        );
    }

    #[test]
    fn xwing_draft_kem_vectors() {
        let vectors: Vec<Value> = serde_json::from_str(XWING_DRAFT).unwrap();
        assert_eq!(vectors.len(), 3);
        for v in &vectors {
            let seed: [u8; 32] = hex(&v["seed"]).try_into().unwrap();
            let (sk, pk) = keypair(&seed).unwrap();
            assert_eq!(sk.to_bytes().as_slice(), hex(&v["sk"]).as_slice());
            assert_eq!(pk.to_bytes().as_slice(), hex(&v["pk"]).as_slice());
            let mut eseed = rng(&v["eseed"]);
            let (ss, ct) = Kem::encap_with_rng(&pk, None, &mut eseed).unwrap();
            assert!(!eseed.overdrawn());
            assert_eq!(ct.to_bytes().as_slice(), hex(&v["ct"]).as_slice());
            assert_eq!(ss.0.as_slice(), hex(&v["ss"]).as_slice());
            let ss2 = Kem::decap(&sk, None, &ct).unwrap();
            assert_eq!(ss2.0.as_slice(), hex(&v["ss"]).as_slice());
        }
    }
}
