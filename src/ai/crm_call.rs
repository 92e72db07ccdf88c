//! The call an AI event for a CRM goes on: its engagement is made by the call's own delivery.
//! An AI event that comes before it (Aircall makes the AI data of a call while, or just after,
//! announcing it) waits for it, checked before the AI read so that a wait costs no Aircall
//! request; past [`WAIT_FOR_CALL_SECONDS`] the call's event was lost or filtered, and the
//! call is read once, its number filter applied as for a call. A CRM integration cannot
//! select AI events without `call.ended` (`integration::ai_events_problem`); one saved
//! before that rule never gets the call's own delivery: its AI events read the call at once,
//! once per call in a batch.

use super::{AiError, IMPORTED};
use crate::aircall::AircallClient;
use crate::config::Config;
use crate::integration::Integration;
use crate::ports::Platform;
use serde_json::{Map, Value};

/// How long after the AI event's time its call's own delivery is waited for.
pub const WAIT_FOR_CALL_SECONDS: i64 = 30 * 60;
/// How often a waiting AI event looks whether the call is logged.
pub const CHECK_EVERY_SECONDS: u32 = 20;
/// The call event whose delivery logs a call (`call.imported` always does, for an import).
const CALL_EVENT: &str = "call.ended";

/// Whether the CRM's engagement of `call_id` exists (`None`: the call is to be read and
/// logged first); `AwaitingCall` while its own delivery may still come.
pub async fn logged<P: Platform>(
    p: &P,
    integration: &Integration,
    call_id: i64,
    event_data: &Map<String, Value>,
    occurred_at: i64,
) -> Result<bool, AiError> {
    if p.get(&crate::keys::crm_call_key(&integration.id, call_id))
        .await?
        .is_some()
    {
        return Ok(true);
    }
    let imported = event_data.get(IMPORTED) == Some(&Value::Bool(true));
    let comes = imported || crate::selection::forwards(integration.events.as_deref(), CALL_EVENT);
    let waited = p.now_seconds() as i64 - occurred_at;
    if comes && waited < WAIT_FOR_CALL_SECONDS {
        return Err(AiError::AwaitingCall {
            call_id,
            seconds: CHECK_EVERY_SECONDS,
        });
    }
    Ok(false)
}

/// A call read for an AI event (past the wait): about one of the integration's numbers, or
/// `NotAboutNumbers`, as its own event would have been filtered.
pub fn about_numbers(integration: &Integration, call: &Map<String, Value>) -> Result<(), AiError> {
    let Some(numbers) = &integration.numbers else {
        return Ok(());
    };
    match crate::selection::about_numbers(numbers, CALL_EVENT, call) {
        Some(true) => Ok(()),
        _ => Err(AiError::NotAboutNumbers {
            call_id: call.get("id").and_then(Value::as_i64).unwrap_or_default(),
        }),
    }
}

/// The call of an AI event for a CRM that has not logged it (past the wait, [`logged`]): its
/// engagement is created from it. One more Aircall request, once per call in a batch.
pub async fn read<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    call_id: i64,
) -> Result<Option<Map<String, Value>>, AiError> {
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(AiError::Credentials)?;
    let client = AircallClient::new(p, config, &credentials);
    match client.get_call(call_id).await {
        Ok(call) => match serde_json::to_value(call) {
            Ok(Value::Object(call)) => Ok(Some(call)),
            _ => Ok(None),
        },
        Err(error) => {
            crate::integration::on_aircall_error(p, config, integration, &error).await;
            Err(AiError::Aircall {
                kind: "the call",
                call_id,
                error,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aircall::AiKind;
    use crate::ports::{Clock, Store};
    use crate::retry::{Disposition, Failure};
    use crate::selection::NumberRef;
    use crate::testing::{answer, config, integration, run, MemoryPlatform};
    use serde_json::json;

    const CALL: &str = r#"{"call":{"id":812,"direct_link":"https://api.aircall.io/v1/calls/812","started_at":1700000000,"ended_at":1700000100,"status":"done","direction":"inbound","number":{"id":789,"digits":"+33 1 76 36 06 95"}}}"#;

    fn aircall(p: &MemoryPlatform) {
        p.respond(|request| match request.url.as_str() {
            "https://aircall.test/v1/calls/812/summary" => Ok(answer(
                200,
                &[],
                r#"{"summary":{"id":7,"call_id":812,"content":"Refund."}}"#,
            )),
            "https://aircall.test/v1/calls/812?fetch_contact=true" => Ok(answer(200, &[], CALL)),
            _ => Ok(answer(404, &[], "{}")),
        });
    }

    fn event() -> Map<String, Value> {
        json!({"id": 1, "call_id": 812})
            .as_object()
            .unwrap()
            .clone()
    }

    fn prepare(
        p: &MemoryPlatform,
        i: &Integration,
        occurred_at: i64,
    ) -> Result<super::super::Prepared, AiError> {
        let mut calls_read = super::super::CallsRead::default();
        run(super::super::prepare(
            p,
            &config(),
            i,
            AiKind::Summary,
            &event(),
            occurred_at,
            3_600,
            true,
            &mut calls_read,
        ))
    }

    fn urls(p: &MemoryPlatform) -> Vec<String> {
        p.requests.borrow().iter().map(|r| r.url.clone()).collect()
    }

    #[test]
    fn an_ai_event_waits_for_its_call_s_own_delivery_without_asking_aircall() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, Some(vec!["call.ended", "summary.created"]));
        aircall(&p);
        p.requests.borrow_mut().clear();
        let now = p.now_seconds() as i64;
        let error = prepare(&p, &i, now - 60).err().unwrap();
        assert!(
            matches!(error, AiError::AwaitingCall { call_id: 812, .. }),
            "{error}"
        );
        assert_eq!(error.disposition(), Disposition::Wait(CHECK_EVERY_SECONDS));
        assert!(urls(&p).is_empty(), "the wait costs no Aircall request");

        // The call's own delivery logged it: one AI read, no call read.
        run(p.put(&crate::keys::crm_call_key(&i.id, 812), "hs-call-1", None)).unwrap();
        let prepared = prepare(&p, &i, now - 60).unwrap();
        assert!(!prepared.data.contains_key("call"));
        assert_eq!(urls(&p), ["https://aircall.test/v1/calls/812/summary"]);
    }

    #[test]
    fn past_the_wait_the_call_is_read_once_and_its_number_filter_applied() {
        let p = MemoryPlatform::default();
        let (mut i, _, _) = integration(&p, None);
        aircall(&p);
        p.requests.borrow_mut().clear();
        let long_ago = p.now_seconds() as i64 - WAIT_FOR_CALL_SECONDS - 1;
        let prepared = prepare(&p, &i, long_ago).unwrap();
        assert_eq!(
            prepared.data["call"]["id"], 812,
            "read to make the engagement"
        );
        assert_eq!(
            urls(&p),
            [
                "https://aircall.test/v1/calls/812/summary",
                "https://aircall.test/v1/calls/812?fetch_contact=true"
            ]
        );
        // A call about another number is filtered, as its own event would have been.
        i.numbers = Some(vec![NumberRef::Id(1)]);
        let error = prepare(&p, &i, long_ago).err().unwrap();
        assert!(
            matches!(error, AiError::NotAboutNumbers { call_id: 812 }),
            "{error}"
        );
        i.numbers = Some(vec![NumberRef::Digits("33176360695".into())]);
        assert!(prepare(&p, &i, long_ago).is_ok());
    }

    #[test]
    fn without_a_call_event_selected_the_call_is_read_at_once() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, Some(vec!["summary.created"]));
        aircall(&p);
        p.requests.borrow_mut().clear();
        let now = p.now_seconds() as i64;
        let prepared = prepare(&p, &i, now).unwrap();
        assert_eq!(prepared.data["call"]["id"], 812);
        assert_eq!(urls(&p).len(), 2, "the AI read and the call's");
        // An imported call's AI event waits even so: call.imported logs the call.
        let mut imported = event();
        imported.insert(IMPORTED.into(), true.into());
        let error = run(logged(&p, &i, 812, &imported, now)).err().unwrap();
        assert!(matches!(error, AiError::AwaitingCall { .. }));
    }
}
