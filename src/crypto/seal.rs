//! Sealing secrets at rest with AES-256-GCM under the `ENCRYPTION_KEY` secret.
//!
//! A sealed value is `v1.<base64(nonce || ciphertext+tag)>`. The slot it belongs to (the
//! integration id and field name) is bound as associated data, so a sealed value copied
//! into another integration's record does not open there.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use thiserror::Error;

const PREFIX: &str = "v1.";
const NONCE_LEN: usize = 12;

#[derive(Debug, Error, PartialEq)]
pub enum SealError {
    #[error("ENCRYPTION_KEY must be 32 bytes encoded in base64")]
    BadKey,
    #[error("a sealed value is damaged or was sealed under another key")]
    CannotOpen,
}

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)") // never print key material
    }
}

impl Sealer {
    /// `key_base64`: the `ENCRYPTION_KEY` secret, 32 random bytes in base64.
    pub fn new(key_base64: &str) -> Result<Self, SealError> {
        let key = STANDARD
            .decode(key_base64.trim())
            .map_err(|_| SealError::BadKey)?;
        if key.len() != 32 {
            return Err(SealError::BadKey);
        }
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| SealError::BadKey)?;
        Ok(Self { cipher })
    }

    pub fn seal(&self, plaintext: &str, slot: &str) -> String {
        let nonce = super::random_bytes::<NONCE_LEN>();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: slot.as_bytes(),
        };
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encryption of a small value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, slot: &str) -> Result<String, SealError> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(SealError::CannotOpen)?;
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: slot.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SealError::CannotOpen)?;
        String::from_utf8(plain).map_err(|_| SealError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let sealer = Sealer::new(KEY).unwrap();
        let sealed = sealer.seal("api-token-123", "int_1/aircall");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("api-token-123"));
        assert_eq!(
            sealer.open(&sealed, "int_1/aircall").unwrap(),
            "api-token-123"
        );
    }

    #[test]
    fn same_value_seals_differently_each_time() {
        let sealer = Sealer::new(KEY).unwrap();
        assert_ne!(sealer.seal("x", "s"), sealer.seal("x", "s"));
    }

    #[test]
    fn refuses_another_slot_another_key_and_tampering() {
        let sealer = Sealer::new(KEY).unwrap();
        let sealed = sealer.seal("secret", "int_1/aircall");
        assert_eq!(
            sealer.open(&sealed, "int_2/aircall"),
            Err(SealError::CannotOpen)
        );

        let other = Sealer::new("HwEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
        assert_eq!(
            other.open(&sealed, "int_1/aircall"),
            Err(SealError::CannotOpen)
        );

        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            sealer.open(&tampered, "int_1/aircall"),
            Err(SealError::CannotOpen)
        );
        assert_eq!(
            sealer.open("v1.", "int_1/aircall"),
            Err(SealError::CannotOpen)
        );
        assert_eq!(
            sealer.open("plain", "int_1/aircall"),
            Err(SealError::CannotOpen)
        );
    }

    #[test]
    fn rejects_keys_of_the_wrong_size() {
        assert_eq!(Sealer::new("c2hvcnQ=").unwrap_err(), SealError::BadKey);
        assert_eq!(Sealer::new("not base64!").unwrap_err(), SealError::BadKey);
    }
}
