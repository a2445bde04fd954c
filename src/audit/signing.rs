//! Ed25519 signatures over manifests and register entries. The signing key file holds
//! `doel-ed25519-secret ` and the 32-byte secret seed as 64 hex characters (mode 0600,
//! like the pseudonym key); the public key file beside it (`FILE.pub`) holds
//! `doel-ed25519-public ` and the 32-byte public key as 64 hex characters, to hand to
//! anyone who must verify. The marks keep either from being read as a pseudonym key.
//! A signature file holds the 64-byte signature as 128 hex characters.

use std::path::{Path, PathBuf};

pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use zeroize::Zeroizing;

/// The signing key, loaded. Not `Debug`: its bytes never reach a log.
pub struct SigningSecret(SigningKey);

/// What a signing key file starts with, so that it cannot be taken for a pseudonym key
/// (64 hex characters alone). Files without it, written before, are read too.
pub const SECRET_PREFIX: &[u8] = b"doel-ed25519-secret ";
/// What a public key file starts with.
pub const PUBLIC_PREFIX: &[u8] = b"doel-ed25519-public ";

impl SigningSecret {
    /// Parse a signing key file's contents: 64 hex characters and an optional newline.
    pub fn from_file_contents(contents: &[u8]) -> Option<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        let contents = contents.strip_prefix(SECRET_PREFIX).unwrap_or(contents);
        let hex_part = contents.strip_suffix(b"\n").unwrap_or(contents);
        hex::decode_to_slice(hex_part, seed.as_mut()).ok()?;
        Some(Self(SigningKey::from_bytes(&seed)))
    }

    /// A new random key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut())?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key file form: 64 hex characters and a newline.
    pub fn to_file_contents(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::from_utf8_lossy(SECRET_PREFIX).into_owned());
        s.push_str(&hex::encode(self.0.to_bytes()));
        s.push('\n');
        s
    }

    /// The public key's file contents, `doel-ed25519-public HEX`.
    pub fn public_file_contents(&self) -> String {
        format!(
            "{}{}\n",
            String::from_utf8_lossy(PUBLIC_PREFIX),
            self.public_hex()
        )
    }

    /// Whether `bytes` are this key's seed or its public key: a pseudonym key must be
    /// neither (the public key is handed to recipients).
    pub fn holds(&self, bytes: &[u8; 32]) -> bool {
        *bytes == self.0.to_bytes() || *bytes == self.0.verifying_key().to_bytes()
    }

    /// The public key, as 64 hex characters.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// The signature of `message`, as 128 hex characters.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).to_bytes())
    }

    /// The public key's fingerprint (see [`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0.verifying_key())
    }
}

/// A public key's fingerprint, as register entries name their signer: the first 16
/// bytes of the SHA-256 of its 32 bytes, as 32 hex characters.
pub fn fingerprint(key: &VerifyingKey) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key.to_bytes())[..16])
}

/// Where the public key of the signing key `path` goes: `PATH.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    super::manifest::with_suffix(secret, ".pub")
}

/// Where the signature of the manifest `path` goes: `PATH.sig`.
pub fn signature_path(manifest: &Path) -> PathBuf {
    super::manifest::with_suffix(manifest, ".sig")
}

/// Whether `signature` (the text of a signature file) is `key`'s signature of `message`.
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    let mut bytes = [0u8; 64];
    if hex::decode_to_slice(signature.trim(), &mut bytes).is_err() {
        return false;
    }
    key.verify(message, &Signature::from_bytes(&bytes)).is_ok()
}
