//! Keys and keyed pseudonyms, as `spec/pseudonyms-v1.md §Keys` and `§Pseudonym` define them.
//!
//! Key bytes live only in [`MasterKey`], [`DomainKey`] and the keyed HMAC and AES states;
//! none implements `Debug` or `Display`, so no log or error can print them. The key
//! buffers doel owns are zeroised when dropped; the crypto crates' internal states are not.

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

/// What every token starts with (`spec/pseudonyms-v1.md §Reversible token`).
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

    /// The reversible-token keys of one domain (`spec/pseudonyms-v1.md §Reversible token`).
    pub fn tokeniser(&self, domain: &str, kind: &str) -> Tokeniser {
        let enc = Zeroizing::new(self.hmac(&[b"doel/v1/token-enc/", domain.as_bytes()]));
        let nonce_key = DomainKey(self.hmac(&[b"doel/v1/token-nonce/", domain.as_bytes()]));
        Tokeniser {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*enc)),
            nonce: nonce_key.pseudonymiser(kind).state,
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
    /// A pseudonymiser for one kind (`bsn`, `name`, `link`): the HMAC state is keyed and fed
    /// `kind || US` once here, and cloned per value.
    pub fn pseudonymiser(&self, kind: &str) -> Pseudonymiser {
        let mut state = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        state.update(kind.as_bytes());
        state.update(&[US]);
        Pseudonymiser { state }
    }
}

impl Drop for DomainKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `P = hex(first 16 bytes of H(K_d, kind || US || canonical))` for one domain and kind.
#[derive(Clone)]
pub struct Pseudonymiser {
    state: HmacSha256,
}

impl Pseudonymiser {
    /// Write the 32 lowercase hex characters of the pseudonym of `canonical` into `out`.
    #[inline]
    pub fn write_hex(&self, canonical: &[u8], out: &mut [u8; PSEUDONYM_HEX_LEN]) {
        let mut mac = self.state.clone();
        mac.update(canonical);
        let digest = mac.finalize().into_bytes();
        hex::encode_to_slice(&digest[..PSEUDONYM_HEX_LEN / 2], out)
            .expect("output buffer is exactly twice the input");
    }

    /// The pseudonym of `canonical` as a string.
    pub fn pseudonym(&self, canonical: &[u8]) -> String {
        let mut out = [0u8; PSEUDONYM_HEX_LEN];
        self.write_hex(canonical, &mut out);
        String::from_utf8(out.to_vec()).expect("hex is ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
