use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Inactive,
}

/// Where an integration's events go. Secrets live in [`SealedSecrets`], not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Destination {
    /// A Standard Webhooks endpoint, signed with the sealed `destination_secret`.
    Webhook { url: String },
    /// A Segment source (HTTP API) in `region`; its write key is the sealed
    /// `destination_secret`.
    Segment { region: crate::segment::Region },
}

/// Secrets of one integration, each sealed with AES-256-GCM (see `crypto::Sealer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedSecrets {
    /// The Aircall credentials as JSON (`{"api_id", "api_token"}`).
    pub aircall_credentials: String,
    /// The token Aircall puts in every webhook it sends us.
    pub webhook_token: String,
    /// The destination's secret: the webhook signing secret, or the Segment write key.
    pub destination_secret: String,
}

/// An integration as stored in KV under `integration:{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub created_at: u64,
    /// Identifies the Aircall account (a hash of the API id), so that integrations of one
    /// account can share its rate budget without exposing the credentials.
    pub aircall_account: String,
    /// The webhook registered on the Aircall account for this integration.
    pub aircall_webhook_id: String,
    pub destination: Destination,
    /// The Aircall events forwarded; `None` forwards every event.
    pub events: Option<Vec<String>>,
    /// Which calls the import brings.
    #[serde(default)]
    pub import: crate::import::ImportRules,
    /// Only events about these Aircall numbers are forwarded; `None`: every number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<crate::segment::NumberRef>>,
    pub sealed: SealedSecrets,
}

impl Integration {
    /// Slot names bind each sealed secret to its integration and field.
    pub fn slot(id: &str, field: &str) -> String {
        format!("{id}/{field}")
    }

    /// The Aircall credentials, unsealed.
    pub fn credentials(
        &self,
        sealer: &crate::crypto::Sealer,
    ) -> Result<crate::aircall::Credentials, crate::crypto::SealError> {
        let slot = Self::slot(&self.id, "aircall_credentials");
        serde_json::from_str(&sealer.open(&self.sealed.aircall_credentials, &slot)?)
            .map_err(|_| crate::crypto::SealError::CannotOpen)
    }

    pub fn wants(&self, event: &str) -> bool {
        self.events
            .as_ref()
            .is_none_or(|events| events.iter().any(|e| e == event))
    }

    /// What the admin API shows: never a secret or token.
    pub fn view(&self, public_base_url: &str) -> IntegrationView {
        IntegrationView {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            created_at: crate::time::rfc3339(self.created_at as i64),
            aircall: AircallView {
                webhook_id: self.aircall_webhook_id.clone(),
                webhook_url: webhook_url(public_base_url, &self.id),
            },
            destination: self.destination.clone(),
            events: self.events.clone(),
            import: self.import.clone(),
            numbers: self.numbers.clone(),
        }
    }
}

/// The URL Aircall posts this integration's webhooks to.
pub fn webhook_url(public_base_url: &str, id: &str) -> String {
    format!("{public_base_url}/webhooks/aircall/{id}")
}

#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub created_at: String,
    pub aircall: AircallView,
    pub destination: Destination,
    pub events: Option<Vec<String>>,
    pub import: crate::import::ImportRules,
    pub numbers: Option<Vec<crate::segment::NumberRef>>,
}

#[derive(Debug, Serialize)]
pub struct AircallView {
    pub webhook_id: String,
    pub webhook_url: String,
}
