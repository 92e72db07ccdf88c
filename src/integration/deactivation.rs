//! Deactivation: an admin's, or the system's when Aircall no longer accepts the
//! integration's credentials, and the count of webhook events dropped meanwhile.

use super::{Actor, Cause, Change, Deactivation, Integration, Integrations, Status};
use crate::aircall::{AircallClient, AircallError};
use crate::config::Config;
use crate::keys::{self, DROPPED_COUNTER};
use crate::ports::{Clock, Log, Platform, Store, StoreError};

/// Makes the integration inactive. Answers it (`None`: no such integration) and whether anything changed: deactivating an
/// inactive integration changes nothing, except that the system's word replaces an admin's
/// (it names what to fix, and makes reactivation re-verify the credentials).
pub async fn deactivate<P: Store + Clock + Log>(
    p: &P,
    id: &str,
    by: Actor,
    cause: Cause,
    reason: &str,
) -> Result<Option<(Integration, bool)>, StoreError> {
    let Some(mut integration) = Integrations::new(p).get(id).await? else {
        return Ok(None);
    };
    // An inactive record without a reason (written by hand) gets one.
    if let (Status::Inactive, Some(current)) = (integration.status, &integration.deactivation) {
        let system_overrides =
            by == Actor::System && current.by != Actor::System && current.cause != Cause::Deleting;
        if !system_overrides {
            return Ok(Some((integration, false)));
        }
    }
    let now = p.now_seconds();
    integration.status = Status::Inactive;
    integration.deactivation = Some(Deactivation {
        by,
        cause,
        reason: reason.to_string(),
        at: now,
    });
    integration.record(now, by, Change::Deactivated, reason);
    Integrations::new(p).save(&integration).await?;
    p.log(&format!("integration {id} deactivated by {by:?}: {reason}"));
    Ok(Some((integration, true)))
}

/// The one place that reads an Aircall refusal met by one of the integration's own requests
/// (import, contact sync). A 401 means the credentials no longer work: the integration
/// becomes inactive (by the system, with the reason), so the cron and the queue stop calling
/// Aircall with them. A 403 may only mean that the company's plan lacks what was asked (AI
/// data): it deactivates only when `GET /v1/ping` is refused too. Failures are logged: the
/// caller's error stands.
pub async fn on_aircall_error<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    error: &AircallError,
) {
    let AircallError::Rejected { status, .. } = error else {
        return;
    };
    let id = &integration.id;
    let confirmed = match (status, integration.credentials(&config.sealer)) {
        (401, _) => Some(error.to_string()),
        (_, Err(e)) => Some(format!("{error}, and the credentials cannot be read: {e}")),
        (_, Ok(credentials)) => match AircallClient::new(p, config, &credentials).ping().await {
            Err(e @ AircallError::Rejected { .. }) => Some(e.to_string()),
            Ok(()) => None,
            // Unknown either way: the next refusal asks again.
            Err(e) => {
                p.log(&format!("integration {id}: HTTP {status} from Aircall, and the credential check failed: {e}"));
                None
            }
        },
    };
    let Some(reason) = confirmed else {
        p.log(&format!(
            "integration {id} stays active: {error}, yet the credentials work"
        ));
        return;
    };
    if let Err(e) = deactivate(p, id, Actor::System, Cause::CredentialsRejected, &reason).await {
        p.log(&format!(
            "could not deactivate integration {id} after Aircall rejected its credentials: {e}"
        ));
    }
}

/// Counts a webhook event received while the integration is inactive (not forwarded).
pub async fn count_dropped<P: Platform>(p: &P, id: &str) -> Result<u64, StoreError> {
    p.count(&keys::gate_name(id), DROPPED_COUNTER, 1).await
}

/// Webhook events dropped since the integration became inactive.
pub async fn dropped<P: Platform>(p: &P, id: &str) -> Result<u64, StoreError> {
    p.count(&keys::gate_name(id), DROPPED_COUNTER, 0).await
}

/// `result` as it was, once [`on_aircall_error`] has read its refusal, if any: wraps each
/// request an integration's import or contact sync makes to Aircall.
pub async fn checked<P: Platform, T>(
    p: &P,
    config: &Config,
    integration: &Integration,
    result: Result<T, AircallError>,
) -> Result<T, AircallError> {
    if let Err(e) = &result {
        on_aircall_error(p, config, integration, e).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{answer, config, integration, run, MemoryPlatform};

    fn refused(status: u16) -> AircallError {
        AircallError::Rejected {
            status,
            message: "company is not active/verified".into(),
        }
    }

    fn status_after(ping: u16, error: AircallError) -> (Status, usize) {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(move |_| Ok(answer(ping, &[], r#"{"message":"ping"}"#)));
        run(on_aircall_error(&p, &config(), &i, &error));
        let stored = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        let requests = p.requests.borrow().len();
        (stored.status, requests)
    }

    #[test]
    fn a_403_the_ping_does_not_confirm_leaves_the_integration_active() {
        // A company without the AI package gets 403 on AI reads; its credentials still work.
        assert_eq!(status_after(200, refused(403)), (Status::Active, 1));
    }

    #[test]
    fn a_403_the_ping_confirms_and_a_401_deactivate() {
        assert_eq!(status_after(403, refused(403)), (Status::Inactive, 1));
        // A 401 needs no confirmation.
        assert_eq!(status_after(200, refused(401)), (Status::Inactive, 0));
    }

    #[test]
    fn other_failures_change_nothing_and_ask_nothing() {
        let error = AircallError::Failed {
            status: 404,
            message: "no such call".into(),
        };
        assert_eq!(status_after(401, error), (Status::Active, 0));
    }

    #[test]
    fn a_deactivation_reason_with_crlf_stays_on_its_log_line() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let forged = "holiday\r\nintegration int_other activated";
        run(deactivate(&p, &i.id, Actor::Admin, Cause::Admin, forged)).unwrap();
        let logs = p.logs.borrow();
        let line = logs.iter().find(|l| l.contains("deactivated")).unwrap();
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        assert!(
            line.ends_with("holiday\\r\\nintegration int_other activated"),
            "{line}"
        );
    }
}
