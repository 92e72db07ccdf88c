//! Secrets at rest, webhook signatures, and comparisons that leak no timing.

mod link;
mod seal;
mod signature;
mod state;

pub use link::LinkSigner;
pub use seal::{SealError, Sealer};
pub use signature::{sign, SigningSecret, SigningSecretError};
pub use state::{StateError, StateSigner, STATE_KEY_LABEL, STATE_TTL_SECONDS};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Compares two secrets in constant time. Both sides are hashed first so that neither
/// their contents nor their lengths show in how long the comparison takes.
pub fn secrets_match(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

/// `n` bytes from the platform's secure random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the platform has a secure random source");
    bytes
}

/// HMAC-SHA256 of `message` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A key of its own for one purpose, derived from the `ENCRYPTION_KEY` secret (base64):
/// `HMAC-SHA256(its bytes, label)`. `None` when the secret is not base64.
pub(crate) fn derive_key(encryption_key_base64: &str, label: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let master = base64::engine::general_purpose::STANDARD
        .decode(encryption_key_base64.trim())
        .ok()?;
    Some(hmac_sha256(&master, label.as_bytes()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(secrets_match("tok_abc", "tok_abc"));
        assert!(!secrets_match("tok_abc", "tok_abd"));
        assert!(!secrets_match("tok_ab", "tok_abc"));
        assert!(!secrets_match("", "tok_abc"));
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(random_bytes::<16>(), random_bytes::<16>());
    }
}
