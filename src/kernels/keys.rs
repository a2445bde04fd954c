//! Keys and keyed pseudonyms, as `docs/spec/pseudonyms-v1.md` ("The master key and its fingerprint", "Domains",
//! "Pseudonym", "Reversible token") defines them.
//!
//! Key bytes live only in [`MasterKey`], [`DomainKey`] and the keyed HMAC and AES states;
//! none implements `Debug` or `Display`, so no log or error can print them. The key
//! buffers doel owns, and the pseudonymisers' pre-keyed SHA-256 states, are zeroised when
//! dropped; the crypto crates' internal states are not.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The unit separator between `kind` and the canonical value (`US` in the spec).
pub const US: u8 = 0x1f;

/// Length of a pseudonym in hex characters (the first 16 bytes of the HMAC).
pub const PSEUDONYM_HEX_LEN: usize = 32;

/// What every token starts with (`docs/spec/pseudonyms-v1.md §Reversible token`).
pub const TOKEN_PREFIX: &str = "t1.";

/// The name of this contract, recorded with every pseudonym column.
pub const SPEC_VERSION: &str = "pseudonyms-v1";

/// Why a key file's contents were refused. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 64 characters (before an optional final newline).
    #[error("the key is {found} characters long; a key is exactly 64 hex characters")]
    WrongLength { found: usize },
    /// 64 characters, but not all hexadecimal digits.
    #[error("the key contains characters that are not hexadecimal digits")]
    NotHex,
}

/// The 32-byte master key `K`.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// Parse a key file's contents: 64 hex characters, optionally followed by a newline
    /// (`\n`; nothing else, as the spec says).
    pub fn from_hex_file_contents(contents: &[u8]) -> Result<Self, KeyError> {
        let hex_part = contents.strip_suffix(b"\n").unwrap_or(contents);
        if hex_part.len() != 64 {
            return Err(KeyError::WrongLength {
                found: hex_part.len(),
            });
        }
        let mut key = Self([0u8; 32]);
        hex::decode_to_slice(hex_part, &mut key.0).map_err(|_| KeyError::NotHex)?;
        Ok(key)
    }

    /// Wrap 32 fresh random bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, to compare them with another key's (never to print).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key file form: 64 lowercase hex characters and a newline.
    pub fn to_hex_file_contents(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(hex::encode(self.0));
        s.push('\n');
        s
    }

    /// `H(K, message)`. The result is key material for every caller but `fingerprint`.
    fn hmac(&self, message: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        for part in message {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Hex of the first 8 bytes of `H(K, "doel/v1/fingerprint")`: safe to print and record.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.hmac(&[b"doel/v1/fingerprint"])[..8])
    }

    /// The pseudonym key of one domain: `K_d = H(K, "doel/v1/domain/" || domain)`.
    pub fn domain(&self, domain: &str) -> DomainKey {
        DomainKey(self.hmac(&[b"doel/v1/domain/", domain.as_bytes()]))
    }

    /// The reversible-token keys of one domain (`docs/spec/pseudonyms-v1.md §Reversible token`).
    pub fn tokeniser(&self, domain: &str, kind: &str) -> Tokeniser {
        let enc = Zeroizing::new(self.hmac(&[b"doel/v1/token-enc/", domain.as_bytes()]));
        let nonce_key = DomainKey(self.hmac(&[b"doel/v1/token-nonce/", domain.as_bytes()]));
        Tokeniser {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*enc)),
            nonce: nonce_key.hmac_state(kind),
            kind: kind.to_owned(),
        }
    }
}

/// Reversible tokens `t1.` || base64url(nonce || AES-256-GCM(canonical, aad = kind)) for
/// one domain and kind, with the synthetic nonce `H(K_nonce, kind || US || canonical)[..12]`
/// so that equal values give equal tokens.
pub struct Tokeniser {
    cipher: Aes256Gcm,
    /// `H(K_nonce, ·)`, already fed `kind || US`.
    nonce: HmacSha256,
    kind: String,
}

impl Tokeniser {
    /// Append the token of a canonical value to `out`.
    pub fn write_token(&self, canonical: &[u8], out: &mut Vec<u8>) {
        let mut mac = self.nonce.clone();
        mac.update(canonical);
        let digest = mac.finalize().into_bytes();
        let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&digest[..12])
            .expect("12 of 32 digest bytes");
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: canonical,
                    aad: self.kind.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut raw = Vec::with_capacity(12 + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        out.extend_from_slice(TOKEN_PREFIX.as_bytes());
        let start = out.len();
        out.resize(
            start + base64::encoded_len(raw.len(), false).unwrap_or(0),
            0,
        );
        let written = URL_SAFE_NO_PAD
            .encode_slice(&raw, &mut out[start..])
            .expect("buffer sized by encoded_len");
        out.truncate(start + written);
    }

    /// The token of a canonical value.
    pub fn token(&self, canonical: &[u8]) -> String {
        let mut out = Vec::new();
        self.write_token(canonical, &mut out);
        String::from_utf8(out).expect("base64 is ASCII")
    }

    /// The canonical value inside a token of this domain and kind; `None` when the token
    /// is malformed, of another kind or domain, made with another key, or altered.
    pub fn open(&self, token: &str) -> Option<Zeroizing<Vec<u8>>> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.strip_prefix(TOKEN_PREFIX)?)
            .ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(12);
        let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(nonce).ok()?;
        let canonical = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: self.kind.as_bytes(),
                },
            )
            .ok()?;
        Some(Zeroizing::new(canonical))
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `K_d`, the key of one pseudonym domain.
pub struct DomainKey([u8; 32]);

impl DomainKey {
    /// A pseudonymiser for one kind (`bsn`, `name`, `link`): the key's HMAC blocks are
    /// compressed once here, and `kind || US` starts every message.
    pub fn pseudonymiser(&self, kind: &str) -> Pseudonymiser {
        Pseudonymiser::new(&self.0, kind)
    }

    /// `H(K_d, ·)` fed `kind || US`, as the `hmac` crate computes it.
    fn hmac_state(&self, kind: &str) -> HmacSha256 {
        let mut state = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        state.update(kind.as_bytes());
        state.update(&[US]);
        state
    }
}

impl Drop for DomainKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `P = hex(first 16 bytes of H(K_d, kind || US || canonical))` for one domain and kind.
///
/// HMAC-SHA256 on SHA-256's compression function, with the key's inner and outer blocks
/// compressed once here: a value whose `kind || US || canonical` fits one block with its
/// padding (55 bytes; every BSN, most names) then costs exactly two compressions. The
/// `hmac` crate's state, cloned per value, cost 40 % more on top of those two (61 % of
/// the limit on an AMD EPYC); the test `matches_the_hmac_crate` holds the two equal.
#[derive(Clone)]
pub struct Pseudonymiser {
    /// SHA-256's state after the block `K_d ^ ipad`.
    inner: [u32; 8],
    /// SHA-256's state after the block `K_d ^ opad`.
    outer: [u32; 8],
    /// `kind || US`, the start of every message.
    prefix: Vec<u8>,
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

impl Pseudonymiser {
    fn new(key: &[u8; 32], kind: &str) -> Self {
        let keyed = |pad: u8| {
            let mut block = [pad; 64];
            for (b, k) in block.iter_mut().zip(key) {
                *b ^= k;
            }
            let mut state = SHA256_IV;
            sha2::block_api::compress256(&mut state, &[block]);
            block.zeroize();
            state
        };
        let mut prefix = kind.as_bytes().to_vec();
        prefix.push(US);
        Self {
            inner: keyed(0x36),
            outer: keyed(0x5c),
            prefix,
        }
    }

    /// Write the 32 lowercase hex characters of the pseudonym of `canonical` into `out`.
    #[inline]
    pub fn write_hex(&self, canonical: &[u8], out: &mut [u8; PSEUDONYM_HEX_LEN]) {
        // The inner hash: prefix || canonical after the key's block, with SHA-256's
        // padding (0x80, zeros, the length in bits of all that was hashed).
        let mut state = self.inner;
        let length = self.prefix.len() + canonical.len();
        let mut block = [0u8; 64];
        let mut filled = 0;
        for part in [self.prefix.as_slice(), canonical] {
            let mut part = part;
            while !part.is_empty() {
                let n = part.len().min(64 - filled);
                block[filled..filled + n].copy_from_slice(&part[..n]);
                filled += n;
                part = &part[n..];
                if filled == 64 {
                    sha2::block_api::compress256(&mut state, &[block]);
                    filled = 0;
                }
            }
        }
        block[filled] = 0x80;
        block[filled + 1..].fill(0);
        if filled >= 56 {
            sha2::block_api::compress256(&mut state, &[block]);
            block = [0u8; 64];
        }
        block[56..].copy_from_slice(&(((64 + length) as u64) * 8).to_be_bytes());
        sha2::block_api::compress256(&mut state, &[block]);
        self.finish(state, out);
    }

    /// The outer hash of the inner digest `state`, its first 16 bytes as hex into `out`.
    #[inline]
    fn finish(&self, state: [u32; 8], out: &mut [u8; PSEUDONYM_HEX_LEN]) {
        let mut block = [0u8; 64];
        for (bytes, word) in block.chunks_exact_mut(4).zip(state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        block[32] = 0x80;
        block[56..].copy_from_slice(&((64 + 32) as u64 * 8).to_be_bytes());
        let mut digest = self.outer;
        sha2::block_api::compress256(&mut digest, &[block]);
        // The first 16 bytes, as hex: straight from the state's words (through
        // `hex::encode_to_slice` the HMAC reached 75 % of the limit against 78–81 %).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (chars, word) in out.chunks_exact_mut(8).zip(digest) {
            for (i, byte) in word.to_be_bytes().into_iter().enumerate() {
                chars[2 * i] = HEX[usize::from(byte >> 4)];
                chars[2 * i + 1] = HEX[usize::from(byte & 15)];
            }
        }
    }

    /// The pseudonym of `canonical` as a string.
    pub fn pseudonym(&self, canonical: &[u8]) -> String {
        let mut out = [0u8; PSEUDONYM_HEX_LEN];
        self.write_hex(canonical, &mut out);
        String::from_utf8(out.to_vec()).expect("hex is ASCII")
    }
}

impl Drop for Pseudonymiser {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_hmac_crate_at_every_length() {
        let domain = DomainKey([7; 32]);
        let message: Vec<u8> = (0..=200u8).collect();
        for n in 0..=message.len() {
            let mut mac = domain.hmac_state("name");
            mac.update(&message[..n]);
            let expected = hex::encode(&mac.finalize().into_bytes()[..16]);
            assert_eq!(
                domain.pseudonymiser("name").pseudonym(&message[..n]),
                expected,
                "{n}"
            );
        }
    }

    proptest::proptest! {
        /// The pseudonymiser's HMAC on the compression function equals the `hmac`
        /// crate's, for messages of one, two and three blocks and every padding split.
        #[test]
        fn matches_the_hmac_crate(
            key in proptest::prelude::any::<[u8; 32]>(),
            kind in "[a-z]{0,70}",
            canonical in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let domain = DomainKey(key);
            let mut mac = domain.hmac_state(&kind);
            mac.update(&canonical);
            let expected = hex::encode(&mac.finalize().into_bytes()[..16]);
            proptest::prop_assert_eq!(domain.pseudonymiser(&kind).pseudonym(&canonical), expected);
        }
    }

    #[test]
    fn key_file_forms() {
        let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        assert!(MasterKey::from_hex_file_contents(hex.as_bytes()).is_ok());
        assert!(
            MasterKey::from_hex_file_contents(format!("{}\n", hex.to_uppercase()).as_bytes())
                .is_ok()
        );
        assert_eq!(
            MasterKey::from_hex_file_contents(&hex.as_bytes()[..62]).err(),
            Some(KeyError::WrongLength { found: 62 })
        );
        assert_eq!(
            MasterKey::from_hex_file_contents(format!("{hex}\n\n").as_bytes()).err(),
            Some(KeyError::WrongLength { found: 65 })
        );
        assert_eq!(
            MasterKey::from_hex_file_contents(format!("{hex}\r\n").as_bytes()).err(),
            Some(KeyError::WrongLength { found: 65 }),
            "the spec allows a newline and nothing else"
        );
        let bad = format!("{}zz", &hex[..62]);
        assert_eq!(
            MasterKey::from_hex_file_contents(bad.as_bytes()).err(),
            Some(KeyError::NotHex)
        );
    }

    #[test]
    fn key_file_round_trip() {
        let key = MasterKey::from_bytes([7; 32]);
        let again =
            MasterKey::from_hex_file_contents(key.to_hex_file_contents().as_bytes()).unwrap();
        assert_eq!(key.fingerprint(), again.fingerprint());
    }
}
