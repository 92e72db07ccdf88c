//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

const PREFIX: &str = "whsec_";

#[derive(Debug, Error, PartialEq)]
pub enum SigningSecretError {
    #[error("must start with \"whsec_\" followed by base64")]
    Format,
    #[error("must hold between 24 and 64 bytes once decoded")]
    Length,
}

/// A destination's signing secret (`whsec_<base64>`).
#[derive(Clone, PartialEq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    pub fn parse(text: &str) -> Result<Self, SigningSecretError> {
        let b64 = text
            .strip_prefix(PREFIX)
            .ok_or(SigningSecretError::Format)?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| SigningSecretError::Format)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SigningSecretError::Length);
        }
        Ok(Self { key })
    }

    /// A new random secret of 32 bytes.
    pub fn generate() -> Self {
        Self {
            key: super::random_bytes::<32>().to_vec(),
        }
    }

    /// The `whsec_...` text shown to the admin once.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }
}

/// The `webhook-signature` header value for one attempt.
pub fn sign(secret: &SigningSecret, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.key).expect("HMAC takes any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vector() {
        let secret = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signature = sign(
            &secret,
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn generated_secrets_parse_back() {
        let secret = SigningSecret::generate();
        assert_eq!(SigningSecret::parse(&secret.expose()).unwrap(), secret);
    }

    #[test]
    fn rejects_malformed_secrets() {
        assert_eq!(
            SigningSecret::parse("C2FVsBQIhrscChlQ").unwrap_err(),
            SigningSecretError::Format
        );
        assert_eq!(
            SigningSecret::parse("whsec_***").unwrap_err(),
            SigningSecretError::Format
        );
        assert_eq!(
            SigningSecret::parse("whsec_c2hvcnQ=").unwrap_err(),
            SigningSecretError::Length
        );
    }
}
