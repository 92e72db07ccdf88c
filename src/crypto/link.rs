//! Signed, expiring links: the `/recordings/...` URLs of archived recordings.
//!
//! The signature is hex `HMAC-SHA256(link_key, "{path}\n{expires}")`, `link_key` being
//! `HMAC-SHA256(ENCRYPTION_KEY bytes, "recording-links")`: a key of its own, so a link never
//! reveals anything about the key that seals secrets.

use super::{derive_key, hex, hmac_sha256, SealError};

#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)") // never print key material
    }
}

impl LinkSigner {
    /// `key_base64`: the `ENCRYPTION_KEY` secret.
    pub fn new(key_base64: &str) -> Result<Self, SealError> {
        let key = derive_key(key_base64, "recording-links").ok_or(SealError::BadKey)?;
        Ok(Self { key })
    }

    pub fn sign(&self, path: &str, expires: u64) -> String {
        hex(&hmac_sha256(
            &self.key,
            format!("{path}\n{expires}").as_bytes(),
        ))
    }

    /// True when `signature` is this path's with this expiry (whether it passed is the
    /// caller's to tell, so that it can say which).
    pub fn verify(&self, path: &str, expires: u64, signature: &str) -> bool {
        super::secrets_match(signature, &self.sign(path, expires))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn a_signature_is_good_for_its_path_and_expiry_only() {
        let signer = LinkSigner::new(KEY).unwrap();
        let sig = signer.sign("/recordings/int_a/1", 1_000);
        assert!(signer.verify("/recordings/int_a/1", 1_000, &sig));
        assert!(
            !signer.verify("/recordings/int_a/2", 1_000, &sig),
            "another call"
        );
        assert!(
            !signer.verify("/recordings/int_a/1", 2_000, &sig),
            "a later expiry"
        );
        let other = LinkSigner::new("AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        assert!(
            !other.verify("/recordings/int_a/1", 1_000, &sig),
            "another key"
        );
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // Computed independently: see tests/e2e for the same derivation in JavaScript.
        use base64::Engine;
        let master = base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .unwrap();
        let key = hmac_sha256(&master, b"recording-links");
        let expected = hex(&hmac_sha256(&key, b"/recordings/int_a/1\n1000"));
        assert_eq!(
            LinkSigner::new(KEY)
                .unwrap()
                .sign("/recordings/int_a/1", 1_000),
            expected
        );
    }
}
