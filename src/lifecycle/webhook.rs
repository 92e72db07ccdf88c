//! The Aircall webhook an integration receives its events from: registered on creation,
//! again when its events or account change or when Aircall no longer has it.

use super::{seal, LifecycleError};
use crate::aircall::{AircallClient, Credentials};
use crate::config::Config;
use crate::integration::{webhook_url, Actor, Change, Integration};
use crate::ports::Platform;

/// Registers the Aircall webhook again when Aircall no longer has it (removed after
/// `integration.deleted`, or by hand).
pub(super) async fn ensure_webhook<P: Platform>(
    p: &P,
    config: &Config,
    integration: &mut Integration,
    credentials: &Credentials,
) -> Result<(), LifecycleError> {
    let aircall = AircallClient::new(p, config, credentials);
    if aircall
        .webhook_exists(&integration.aircall_webhook_id)
        .await?
    {
        return Ok(());
    }
    register_webhook(
        p,
        config,
        integration,
        &aircall,
        "Aircall no longer had its webhook",
    )
    .await
}

pub(super) async fn register_webhook<P: Platform>(
    p: &P,
    config: &Config,
    integration: &mut Integration,
    aircall: &AircallClient<'_, P>,
    why: &str,
) -> Result<(), LifecycleError> {
    let webhook = aircall
        .create_webhook(
            &format!("aircall-connector: {}", integration.name),
            &webhook_url(&config.public_base_url, &integration.id),
            integration.events.as_deref(),
        )
        .await?;
    integration.sealed.webhook_token =
        seal(config, &integration.id, "webhook_token", &webhook.token);
    let now = p.now_seconds();
    integration.record(
        now,
        Actor::Admin,
        Change::WebhookRegistered,
        format!("{why}: webhook {} registered", webhook.webhook_id),
    );
    integration.aircall_webhook_id = webhook.webhook_id;
    Ok(())
}
