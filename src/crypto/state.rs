//! The OAuth `state`: `{nonce}.{issued_at}.{signature}`, where
//!
//! - `nonce` is 32 hex digits of randomness, also set in the admin's browser as a cookie, so
//!   a state only completes an install in the browser that started it;
//! - `issued_at` is UNIX seconds; the state expires [`STATE_TTL_SECONDS`] later;
//! - `signature` is base64url (no padding) of HMAC-SHA256(k, `"{nonce}.{issued_at}"`), with
//!   `k` = HMAC-SHA256(the 32 bytes of `ENCRYPTION_KEY`, [`STATE_KEY_LABEL`]): a key of its
//!   own, derived from the deployment's key and used for nothing else.
//!
//! Single use is not checked here: the callback claims the nonce in `ACCOUNT_GATE`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// A state is good for 10 minutes (Aircall's codes live as long).
pub const STATE_TTL_SECONDS: u64 = 600;
/// Domain separation: the label the state key is derived under.
pub const STATE_KEY_LABEL: &str = "aircall-connector/oauth-state/v1";
/// How far in the future an `issued_at` may be (clock skew between instances).
const SKEW_SECONDS: u64 = 60;

#[derive(Debug, Error, PartialEq)]
pub enum StateError {
    #[error("the state is missing")]
    Missing,
    #[error("the state is not one this connector signed")]
    Forged,
    #[error("the state has expired (it is valid for 10 minutes): start the install again")]
    Expired,
}

#[derive(Clone)]
pub struct StateSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSigner(..)")
    }
}

use super::hmac_sha256 as hmac;

impl StateSigner {
    /// `encryption_key_base64`: the `ENCRYPTION_KEY` secret (already checked by `Sealer`).
    pub fn new(encryption_key_base64: &str) -> Option<Self> {
        Some(Self {
            key: super::derive_key(encryption_key_base64, STATE_KEY_LABEL)?,
        })
    }

    fn signature(&self, nonce: &str, issued_at: u64) -> String {
        URL_SAFE_NO_PAD.encode(hmac(&self.key, format!("{nonce}.{issued_at}").as_bytes()))
    }

    /// A new state and its nonce (for the cookie).
    pub fn issue(&self, now_seconds: u64) -> (String, String) {
        let nonce = super::hex(&super::random_bytes::<16>());
        let state = format!(
            "{nonce}.{now_seconds}.{}",
            self.signature(&nonce, now_seconds)
        );
        (state, nonce)
    }

    /// Checks the signature and the age; answers the nonce.
    pub fn verify(&self, state: &str, now_seconds: u64) -> Result<String, StateError> {
        if state.is_empty() {
            return Err(StateError::Missing);
        }
        let mut parts = state.split('.');
        let (Some(nonce), Some(issued_at), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(StateError::Forged);
        };
        let issued_at: u64 = issued_at.parse().map_err(|_| StateError::Forged)?;
        let expected = self.signature(nonce, issued_at);
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return Err(StateError::Forged);
        }
        if issued_at > now_seconds + SKEW_SECONDS
            || now_seconds >= issued_at.saturating_add(STATE_TTL_SECONDS)
        {
            return Err(StateError::Expired);
        }
        Ok(nonce.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NOW: u64 = 1_763_980_000;

    #[test]
    fn a_state_verifies_for_ten_minutes_and_gives_its_nonce() {
        let signer = StateSigner::new(KEY).unwrap();
        let (state, nonce) = signer.issue(NOW);
        assert_eq!(nonce.len(), 32);
        assert!(state.starts_with(&format!("{nonce}.{NOW}.")));
        assert_eq!(signer.verify(&state, NOW), Ok(nonce.clone()));
        assert_eq!(signer.verify(&state, NOW + 599), Ok(nonce));
        assert_eq!(signer.verify(&state, NOW + 600), Err(StateError::Expired));
        assert_eq!(
            signer.verify(&state, NOW - 61),
            Err(StateError::Expired),
            "from the future"
        );
    }

    #[test]
    fn refuses_forged_altered_and_foreign_states() {
        let signer = StateSigner::new(KEY).unwrap();
        let (state, nonce) = signer.issue(NOW);
        let sig = state.rsplit('.').next().unwrap();
        // A later issued_at (to extend the life) breaks the signature.
        let later = format!("{nonce}.{}.{sig}", NOW + 500);
        assert_eq!(signer.verify(&later, NOW), Err(StateError::Forged));
        let other_nonce = format!("{}.{NOW}.{sig}", "0".repeat(32));
        assert_eq!(signer.verify(&other_nonce, NOW), Err(StateError::Forged));
        for bad in ["x", "a.b", "a.b.c.d", &format!("{state}x")] {
            assert_eq!(signer.verify(bad, NOW), Err(StateError::Forged), "{bad}");
        }
        assert_eq!(signer.verify("", NOW), Err(StateError::Missing));
        let other = StateSigner::new("HwEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
        assert_eq!(other.verify(&state, NOW), Err(StateError::Forged));
    }

    #[test]
    fn the_derivation_is_the_documented_one() {
        // What the e2e test (and anyone auditing) computes on its own.
        let master = STANDARD.decode(KEY).unwrap();
        let key = hmac(&master, b"aircall-connector/oauth-state/v1");
        let sig = URL_SAFE_NO_PAD.encode(hmac(&key, b"abc.100"));
        let signer = StateSigner::new(KEY).unwrap();
        assert_eq!(
            signer.verify(&format!("abc.100.{sig}"), 100),
            Ok("abc".into())
        );
    }
}
