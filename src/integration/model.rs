use crate::destinations::Destination;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Inactive,
}

/// Who made a lifecycle change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// Someone with the admin token.
    Admin,
    /// The connector itself (Aircall rejected the credentials, sent `integration.deleted`).
    System,
    /// The OAuth install.
    Oauth,
}

/// Why an integration is inactive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// An admin deactivated it.
    Admin,
    /// Aircall answered 401/403 to its credentials.
    CredentialsRejected,
    /// Aircall sent `integration.deleted` (the app was uninstalled from the account).
    IntegrationDeleted,
    /// Installed through OAuth; never active yet: it needs a destination first.
    AwaitingDestination,
    /// Being deleted (a large deletion goes on in the queue).
    Deleting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deactivation {
    pub by: Actor,
    pub cause: Cause,
    pub reason: String,
    /// UNIX seconds.
    pub at: u64,
}

/// The kinds of lifecycle change recorded in an integration's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Deactivated,
    Activated,
    CredentialsChanged,
    SettingsChanged,
    /// The Aircall webhook was registered again (new events, another account, or gone).
    WebhookRegistered,
    DeletionStarted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// UNIX seconds.
    pub at: u64,
    pub by: Actor,
    pub change: Change,
    pub reason: String,
}

/// Most lifecycle events kept on an integration (the oldest go first).
pub const HISTORY_KEPT: usize = 100;

/// Secrets of one integration, each sealed with AES-256-GCM (see `crypto::Sealer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedSecrets {
    /// The Aircall credentials as JSON (`aircall::Credentials`).
    pub aircall_credentials: String,
    /// The token Aircall puts in every webhook it sends us.
    pub webhook_token: String,
    /// The destination's secret: the webhook signing secret, the Segment write key or the
    /// HubSpot access token; empty
    /// while the integration has no destination (an OAuth install awaiting it).
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
    /// `None` until an OAuth-installed integration is given one.
    #[serde(default)]
    pub destination: Option<Destination>,
    /// The Aircall events forwarded; `None` forwards every event.
    pub events: Option<Vec<String>>,
    /// Which calls the import brings.
    #[serde(default)]
    pub import: crate::calls::ImportRules,
    /// Only events about these Aircall numbers are forwarded; `None`: every number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<crate::selection::NumberRef>>,
    /// Two-way contact sync with the CRM (HubSpot destinations); `None`: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_sync: Option<crate::contacts::ContactSync>,
    /// Caller context from the CRM while the phone rings; `None`: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insight_cards: Option<crate::crm::cards::InsightCards>,
    pub sealed: SealedSecrets,
    /// Why it is inactive (`None` while active).
    #[serde(default)]
    pub deactivation: Option<Deactivation>,
    /// Every lifecycle change, oldest first.
    #[serde(default)]
    pub history: Vec<LifecycleEvent>,
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

    /// The destination's secret, unsealed.
    pub fn destination_secret(
        &self,
        sealer: &crate::crypto::Sealer,
    ) -> Result<String, crate::crypto::SealError> {
        let slot = Self::slot(&self.id, "destination_secret");
        sealer.open(&self.sealed.destination_secret, &slot)
    }

    /// Appends to the history, keeping the last [`HISTORY_KEPT`] events.
    pub fn record(&mut self, at: u64, by: Actor, change: Change, reason: impl Into<String>) {
        self.history.push(LifecycleEvent {
            at,
            by,
            change,
            reason: reason.into(),
        });
        if self.history.len() > HISTORY_KEPT {
            let extra = self.history.len() - HISTORY_KEPT;
            self.history.drain(..extra);
        }
    }

    /// What the admin API shows: never a secret or token.
    pub fn view(&self, public_base_url: &str) -> IntegrationView {
        let deactivation = self.deactivation.as_ref();
        IntegrationView {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            created_at: crate::time::rfc3339(self.created_at as i64),
            deactivated_by: deactivation.map(|d| d.by),
            deactivated_at: deactivation.map(|d| crate::time::rfc3339(d.at as i64)),
            deactivation_cause: deactivation.map(|d| d.cause),
            deactivation_reason: deactivation.map(|d| d.reason.clone()),
            aircall: AircallView {
                webhook_id: self.aircall_webhook_id.clone(),
                webhook_url: webhook_url(public_base_url, &self.id),
            },
            destination: self.destination.clone(),
            events: self.events.clone(),
            import: self.import.clone(),
            dropped_while_inactive: None,
            history: self
                .history
                .iter()
                .map(|e| HistoryView {
                    at: crate::time::rfc3339(e.at as i64),
                    by: e.by,
                    change: e.change,
                    reason: e.reason.clone(),
                })
                .collect(),
            numbers: self.numbers.clone(),
            contact_sync: self.contact_sync.clone(),
            insight_cards: self.insight_cards.clone(),
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
    pub deactivated_by: Option<Actor>,
    pub deactivated_at: Option<String>,
    pub deactivation_cause: Option<Cause>,
    pub deactivation_reason: Option<String>,
    pub aircall: AircallView,
    pub destination: Option<Destination>,
    pub events: Option<Vec<String>>,
    pub import: crate::calls::ImportRules,
    /// Webhook events received and not forwarded since it became inactive (shown on
    /// `GET /api/integrations/{id}` only: the count lives in `ACCOUNT_GATE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_while_inactive: Option<u64>,
    pub history: Vec<HistoryView>,
    pub numbers: Option<Vec<crate::selection::NumberRef>>,
    pub contact_sync: Option<crate::contacts::ContactSync>,
    pub insight_cards: Option<crate::crm::cards::InsightCards>,
}

#[derive(Debug, Serialize)]
pub struct AircallView {
    pub webhook_id: String,
    pub webhook_url: String,
}

#[derive(Debug, Serialize)]
pub struct HistoryView {
    pub at: String,
    pub by: Actor,
    pub change: Change,
    pub reason: String,
}
