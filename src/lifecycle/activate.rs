//! Reactivation: the credentials checked again, the Aircall webhook registered again if it
//! is gone, and logging again from that moment.

use super::webhook::ensure_webhook;
use super::{load, seal, LifecycleError};
use crate::aircall::{oauth, AircallClient, AircallError, Credentials};
use crate::config::Config;
use crate::import::Cursor;
use crate::integration::{dropped, Actor, Cause, Change, Integration, Integrations, Status};
use crate::keys::{self, DROPPED_COUNTER};
use crate::ports::Platform;

#[derive(Debug)]
pub struct Activated {
    pub integration: Integration,
    pub already_active: bool,
    /// Webhook events received while inactive, not forwarded.
    pub dropped: u64,
    /// Imports start again from this second (UNIX s); `None` for a first activation, whose
    /// first import looks back `window_days` as on creation.
    pub imports_from: Option<u64>,
}

/// Makes the integration active again, from now on: its cursor moves to this second, so
/// calls made while it was inactive are not imported (as Aircall's own integrations do).
/// The credentials are verified first, and the Aircall webhook registered again if it
/// is gone.
pub async fn activate<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
) -> Result<Activated, LifecycleError> {
    let mut integration = load(p, id).await?;
    if integration.status == Status::Active {
        return Ok(Activated {
            integration,
            already_active: true,
            dropped: 0,
            imports_from: None,
        });
    }
    let cause = integration.deactivation.as_ref().map(|d| d.cause);
    if cause == Some(Cause::Deleting) {
        return Err(LifecycleError::Refused(
            "the integration is being deleted".into(),
        ));
    }
    if integration.destination.is_none() {
        return Err(LifecycleError::Refused(format!(
            "the integration has no destination yet: give one with PATCH /api/integrations/{id} \
             ({{\"destination\": {{\"type\": \"webhook\", \"url\": ...}}}}), then activate it"
        )));
    }
    let mut credentials = integration.credentials(&config.sealer)?;
    let now = p.now_seconds();
    if let Err(e) = AircallClient::new(p, config, &credentials).ping().await {
        let AircallError::Rejected { status, .. } = e else {
            return Err(e.into());
        };
        let refused = || LifecycleError::StillRejected {
            status,
            cause: match &integration.deactivation {
                Some(d) => format!(
                    "deactivated by {} at {}: {}",
                    serde_json::to_value(d.by)
                        .expect("serializes")
                        .as_str()
                        .unwrap_or("?"),
                    crate::time::rfc3339(d.at as i64),
                    d.reason
                ),
                None => "inactive".into(),
            },
        };
        // Aircall's tokens do not expire; should one ever come with a refresh token, use it.
        let (
            Credentials::Bearer {
                refresh_token: Some(refresh_token),
                ..
            },
            Some(app),
        ) = (&credentials, &config.oauth)
        else {
            return Err(refused());
        };
        let fresh = oauth::refresh(
            p,
            &config.aircall_api_base,
            &app.client_id,
            &app.client_secret,
            refresh_token,
        )
        .await
        .map_err(|_| refused())?;
        AircallClient::new(p, config, &fresh)
            .ping()
            .await
            .map_err(|_| refused())?;
        credentials = fresh;
        let text = serde_json::to_string(&credentials).expect("serializes");
        integration.sealed.aircall_credentials = seal(config, id, "aircall_credentials", &text);
        integration.aircall_account = credentials.account_key();
        integration.record(
            now,
            Actor::System,
            Change::CredentialsChanged,
            "the OAuth token was refreshed",
        );
    }
    ensure_webhook(p, config, &mut integration, &credentials).await?;

    let imports_from = if was_ever_active(&integration) {
        let cursor = Cursor {
            started_at: now as i64,
            ids_at_started_at: Vec::new(),
        };
        let text = serde_json::to_string(&cursor).expect("serializes");
        p.put(&keys::cursor_key(id), &text, None).await?;
        Some(now)
    } else {
        None
    };
    let dropped = dropped(p, id).await?;
    integration.status = Status::Active;
    integration.deactivation = None;
    integration.record(
        now,
        Actor::Admin,
        Change::Activated,
        format!(
            "active again from now; {dropped} webhook event(s) received while inactive were not \
             forwarded, and calls made while inactive are not imported"
        ),
    );
    Integrations::new(p).save(&integration).await?;
    p.clear(&keys::gate_name(id), DROPPED_COUNTER).await?;
    p.log(&format!("integration {id} activated"));
    Ok(Activated {
        integration,
        already_active: false,
        dropped,
        imports_from,
    })
}

/// Whether the integration was ever active: an OAuth install is not until its first
/// activation, which then imports as a new integration does.
fn was_ever_active(integration: &Integration) -> bool {
    integration.history.is_empty()
        || integration.history.iter().any(|e| {
            e.change == Change::Activated || (e.change == Change::Created && e.by != Actor::Oauth)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::Deactivation;
    use crate::integration::IntegrationPatch;

    use crate::integration::{count_dropped, deactivate};
    use crate::lifecycle::fixtures::{aircall, stored};
    use crate::lifecycle::update;

    use crate::testing::{config, integration, run, MemoryPlatform};
    use serde_json::json;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn reactivation_moves_the_cursor_to_now_and_records_the_drops() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(true)));
        let (_, changed) = run(deactivate(&p, &i.id, Actor::Admin, Cause::Admin, "holiday"))
            .unwrap()
            .unwrap();
        assert!(changed);
        let (_, again) = run(deactivate(&p, &i.id, Actor::Admin, Cause::Admin, "x"))
            .unwrap()
            .unwrap();
        assert!(!again, "deactivating twice changes nothing");
        run(count_dropped(&p, &i.id)).unwrap();
        p.now_ms.set(p.now_ms.get() + 3_600_000);

        let activated = run(activate(&p, &config(), &i.id)).unwrap();
        let now = p.now_ms.get() / 1000;
        assert_eq!((activated.dropped, activated.imports_from), (1, Some(now)));
        let cursor: Cursor =
            serde_json::from_str(&p.kv.borrow()[&keys::cursor_key(&i.id)]).unwrap();
        assert_eq!(
            cursor,
            Cursor {
                started_at: now as i64,
                ids_at_started_at: vec![]
            }
        );
        assert_eq!(
            run(dropped(&p, &i.id)).unwrap(),
            0,
            "the count starts again"
        );
        let i = stored(&p, &i.id);
        assert_eq!((i.status, i.deactivation.is_none()), (Status::Active, true));
        let changes: Vec<_> = i.history.iter().map(|e| (e.by, e.change)).collect();
        assert_eq!(
            changes,
            vec![
                (Actor::Admin, Change::Created),
                (Actor::Admin, Change::Deactivated),
                (Actor::Admin, Change::Activated)
            ]
        );
    }

    #[test]
    fn rejected_credentials_deactivate_and_block_reactivation() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let good = Rc::new(Cell::new(false));
        aircall(&p, good.clone());
        let c = config();
        let credentials = i.credentials(&c.sealer).unwrap();
        let refused = run(AircallClient::new(&p, &c, &credentials).ping()).unwrap_err();
        assert!(matches!(
            refused,
            AircallError::Rejected { status: 401, .. }
        ));
        run(crate::integration::on_aircall_error(&p, &c, &i, &refused));
        let d = stored(&p, &i.id).deactivation.unwrap();
        assert_eq!((d.by, d.cause), (Actor::System, Cause::CredentialsRejected));
        assert!(
            d.reason.contains("HTTP 401") && d.reason.contains("Check your API ID"),
            "{}",
            d.reason
        );

        // The admin's own deactivation does not hide the system's reason afterwards.
        run(deactivate(&p, &i.id, Actor::Admin, Cause::Admin, "x")).unwrap();
        assert_eq!(stored(&p, &i.id).deactivation.unwrap().by, Actor::System);

        let refused = run(activate(&p, &c, &i.id)).unwrap_err();
        assert!(matches!(
            refused,
            LifecycleError::StillRejected { status: 401, .. }
        ));
        assert!(
            refused.to_string().contains("deactivated by system"),
            "{refused}"
        );
        assert_eq!(stored(&p, &i.id).status, Status::Inactive);

        // New credentials that work (PATCH), then activation goes through.
        good.set(true);
        let patch =
            IntegrationPatch::parse(&json!({"aircall": {"api_id": "id", "api_token": "new"}}))
                .unwrap();
        run(update(&p, &c, &i.id, patch)).unwrap();
        assert_eq!(
            stored(&p, &i.id).status,
            Status::Inactive,
            "a PATCH does not activate"
        );
        run(activate(&p, &c, &i.id)).unwrap();
        let i = stored(&p, &i.id);
        assert_eq!(i.status, Status::Active);
        assert!(i
            .history
            .iter()
            .any(|e| e.change == Change::CredentialsChanged));
        assert_eq!(
            i.aircall_webhook_id, "wh-1",
            "same account: the webhook stays"
        );
    }

    #[test]
    fn an_oauth_install_imports_like_a_new_integration_on_its_first_activation() {
        let p = MemoryPlatform::default();
        let (mut i, _, _) = integration(&p, None);
        // As `create_as` leaves an OAuth install: no destination, never active.
        i.destination = None;
        i.sealed.destination_secret = String::new();
        i.status = Status::Inactive;
        i.history = vec![];
        i.record(1, Actor::Oauth, Change::Created, "installed");
        i.deactivation = Some(Deactivation {
            by: Actor::Oauth,
            cause: Cause::AwaitingDestination,
            reason: "awaiting".into(),
            at: 1,
        });
        run(Integrations::new(&p).save(&i)).unwrap();
        aircall(&p, Rc::new(Cell::new(true)));
        let c = config();
        assert!(matches!(
            run(activate(&p, &c, &i.id)),
            Err(LifecycleError::Refused(_))
        ));
        let patch = IntegrationPatch::parse(
            &json!({"destination": {"type": "webhook", "url": "https://r.example/h"}}),
        )
        .unwrap();
        let updated = run(update(&p, &c, &i.id, patch)).unwrap();
        assert!(updated.destination_secret.unwrap().starts_with("whsec_"));
        let activated = run(activate(&p, &c, &i.id)).unwrap();
        assert_eq!(activated.imports_from, None);
        assert!(
            !p.kv.borrow().contains_key(&keys::cursor_key(&i.id)),
            "first import still to come"
        );
    }
}
