//! Creating an integration: verify the Aircall credentials, register our webhook on the
//! account, seal the secrets, store it.

use crate::aircall::{AircallClient, AircallError};
use crate::config::Config;
use crate::destinations::NewDestination;
use crate::integration::{
    new_integration_id, webhook_url, Actor, Cause, Change, Deactivation, Integration, Integrations,
    NewIntegration, SealedSecrets, Status,
};
use crate::ports::Platform;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CreateError {
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Infra(#[from] crate::infra::InfraError),
}

crate::infra::carries_infra!(CreateError);

pub struct Created {
    pub integration: Integration,
    /// A webhook's signing secret, shown to the admin this once (`None` for a Segment write
    /// key, which the admin gave, or without a destination).
    pub destination_secret: Option<String>,
}

/// Creates an integration on an admin's request.
pub async fn create<P: Platform>(
    p: &P,
    config: &Config,
    new: NewIntegration,
) -> Result<Created, CreateError> {
    create_as(p, config, new, Actor::Admin).await
}

/// Creates an integration. Without a destination (an OAuth install) it starts inactive,
/// awaiting one; its first activation then imports as a new integration does.
pub async fn create_as<P: Platform>(
    p: &P,
    config: &Config,
    new: NewIntegration,
    by: Actor,
) -> Result<Created, CreateError> {
    let aircall = AircallClient::new(p, config, &new.credentials);
    aircall.ping().await?;

    let id = new_integration_id();
    let url = webhook_url(&config.public_base_url, &id);
    let webhook = aircall
        .create_webhook(
            &format!("aircall-connector: {}", new.name),
            &url,
            new.events.as_deref(),
        )
        .await?;

    let seal = |value: &str, field: &str| config.sealer.seal(value, &Integration::slot(&id, field));
    // One sealed slot for the destination's secret, whatever the destination; only a webhook
    // secret is shown (once).
    let (destination, secret, shown) = match new.destination {
        Some(NewDestination {
            destination,
            secret,
        }) => {
            let secret = secret.or_else(|| destination.generate_secret());
            let shown = secret.clone().filter(|_| destination.shows_secret());
            (Some(destination), secret, shown)
        }
        None => (None, None, None),
    };
    let now = p.now_seconds();
    let credentials = serde_json::to_string(&new.credentials).expect("serializes");
    let mut integration = Integration {
        id: id.clone(),
        name: new.name,
        status: Status::Active,
        created_at: now,
        aircall_account: new.credentials.account_key(),
        aircall_webhook_id: webhook.webhook_id.clone(),
        destination,
        events: new.events,
        import: new.import,
        numbers: new.numbers,
        contact_sync: new.contact_sync,
        insight_cards: new.insight_cards,
        sealed: SealedSecrets {
            aircall_credentials: seal(&credentials, "aircall_credentials"),
            webhook_token: seal(&webhook.token, "webhook_token"),
            destination_secret: secret
                .as_deref()
                .map(|s| seal(s, "destination_secret"))
                .unwrap_or_default(),
        },
        deactivation: None,
        history: Vec::new(),
    };
    let how = match by {
        Actor::Oauth => "installed through Aircall's OAuth",
        _ => "created with the admin API",
    };
    integration.record(now, by, Change::Created, how);
    if integration.destination.is_none() {
        let reason = "awaiting a destination: give one with PATCH, then activate";
        integration.status = Status::Inactive;
        integration.deactivation = Some(Deactivation {
            by,
            cause: Cause::AwaitingDestination,
            reason: reason.into(),
            at: now,
        });
    }
    if let Err(e) = Integrations::new(p).save(&integration).await {
        // Do not leave Aircall posting to an integration that does not exist.
        if let Err(cleanup) = aircall.delete_webhook(&webhook.webhook_id).await {
            p.log(&format!(
                "could not remove Aircall webhook {} after a failed create: {cleanup}",
                webhook.webhook_id
            ));
        }
        return Err(e.into());
    }
    p.log(&format!(
        "created integration {id} (Aircall webhook {})",
        webhook.webhook_id
    ));
    Ok(Created {
        integration,
        destination_secret: shown,
    })
}
