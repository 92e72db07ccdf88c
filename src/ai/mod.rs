//! Aircall's AI data for an AI webhook event: the event says which call has new data of
//! which kind; one read through the account's rate budget brings the content. A company
//! without the AI package is remembered (`availability`) so that its AI events cost no
//! request for a day.

pub mod archive;
pub mod availability;
pub mod crm_call;
pub mod id;
pub mod imported;
pub mod last;

use crate::aircall::{AiKind, AircallClient, AircallError};
use crate::config::Config;
use crate::infra::{carries_infra, InfraError};
use crate::integration::Integration;
use crate::ports::Platform;
use crate::retry::{Disposition, Failure};
use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AiError {
    #[error("the AI event names no call (no call_id in its data)")]
    NoCall,
    /// The company has no AI package: nothing was asked of Aircall.
    #[error("Aircall refuses this account's AI data (no AI package) since {}; next try after {}",
        crate::time::rfc3339(.0.since as i64), crate::time::rfc3339(.0.next_check_at() as i64))]
    Unavailable(availability::Unavailable),
    /// An imported call has no data of this kind (yet): nothing to deliver.
    #[error("call {call_id} has no {kind} (yet)")]
    NoneForImport { kind: &'static str, call_id: i64 },
    #[error("the Aircall credentials cannot be read: {0}")]
    Credentials(crate::crypto::SealError),
    #[error("{kind} of call {call_id} could not be read: {error}")]
    Aircall {
        kind: &'static str,
        call_id: i64,
        error: AircallError,
    },
    /// For a CRM: the call is not logged yet and its own delivery may still come.
    #[error("call {call_id} is not logged in the CRM yet: waiting for its own delivery")]
    AwaitingCall { call_id: i64, seconds: u32 },
    /// For a CRM: the call (read past the wait) is about none of the integration's numbers.
    #[error("call {call_id} is about none of the integration's numbers")]
    NotAboutNumbers { call_id: i64 },
    #[error(transparent)]
    Infra(InfraError),
}

carries_infra!(AiError);

impl Failure for AiError {
    fn disposition(&self) -> Disposition {
        match self {
            AiError::Aircall { error, .. } => error.disposition(),
            AiError::Infra(e) => e.disposition(),
            AiError::AwaitingCall { seconds, .. } => Disposition::Wait(*seconds),
            AiError::NoCall
            | AiError::Unavailable(_)
            | AiError::NoneForImport { .. }
            | AiError::NotAboutNumbers { .. }
            | AiError::Credentials(_) => Disposition::Permanent,
        }
    }
}

/// Marks the AI events an import makes for a call (`import.ai`), in their data.
pub const IMPORTED: &str = "imported";

/// The call an AI event is about: its `call_id` (the AI objects' own field; Aircall's
/// documentation shows no AI webhook payload, so this is the best reading).
pub fn call_id(data: &Map<String, Value>) -> Option<i64> {
    match data.get("call_id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// What the destination gets for an AI event: the call id and Aircall's answer as it is
/// (`{"call_id": 812, "summary": {"id", "call_id", "created_at", "content"}}`).
pub fn payload(call_id: i64, answer: Map<String, Value>) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("call_id".into(), Value::from(call_id));
    data.extend(answer);
    data
}

/// Reads the AI data the event announces: at most one Aircall request, none while the
/// company is known to lack the AI package. A 403 marks it so (never a deactivation: the
/// credentials work, the plan lacks the feature); a 401 goes to the one place that
/// deactivates.
pub async fn read<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    kind: AiKind,
    event_data: &Map<String, Value>,
) -> Result<Map<String, Value>, AiError> {
    let call_id = call_id(event_data).ok_or(AiError::NoCall)?;
    if let Some(content) = imported::handed(event_data) {
        return Ok(content.clone()); // read by the imported call's job
    }
    let known = availability::get(p, &integration.id).await?;
    if let Some(unavailable) = known.filter(|u| u.holds_at(p.now_seconds())) {
        return Err(AiError::Unavailable(unavailable));
    }
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(AiError::Credentials)?;
    let client = AircallClient::new(p, config, &credentials);
    match client.get_ai(call_id, kind).await {
        Ok(answer) => {
            if known.is_some() {
                availability::mark_available(p, &integration.id).await?;
                p.log(&format!(
                    "integration {}: Aircall serves AI data again",
                    integration.id
                ));
            }
            Ok(payload(call_id, answer))
        }
        Err(AircallError::Rejected { status: 403, .. }) => {
            let unavailable =
                availability::mark_unavailable(p, &integration.id, p.now_seconds()).await?;
            Err(AiError::Unavailable(unavailable))
        }
        Err(AircallError::Failed { status: 404, .. })
            if event_data.get(IMPORTED) == Some(&Value::Bool(true)) =>
        {
            Err(AiError::NoneForImport {
                kind: kind.path(),
                call_id,
            })
        }
        Err(error) => {
            crate::integration::on_aircall_error(p, config, integration, &error).await;
            Err(AiError::Aircall {
                kind: kind.path(),
                call_id,
                error,
            })
        }
    }
}

/// Calls a CRM had not logged, read once per batch for its AI events.
pub type CallsRead = std::collections::BTreeMap<i64, Map<String, Value>>;

/// AI data ready for its destination.
pub struct Prepared {
    /// The id of its content ([`id::content_id`]).
    pub content_id: String,
    pub data: Map<String, Value>,
}

/// What an AI event's delivery carries: its one read; a transcript archived beside the
/// recording (the event then links to it); for a CRM, the call it has not logged yet, which
/// its engagement is created from (waited for first, then read once per call in a batch:
/// `crm_call`).
#[allow(clippy::too_many_arguments)]
pub async fn prepare<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    kind: AiKind,
    event_data: &Map<String, Value>,
    occurred_at: i64,
    link_seconds: u64,
    for_crm: bool,
    calls_read: &mut CallsRead,
) -> Result<Prepared, AiError> {
    // Before the AI read: a wait for the call's own delivery costs no Aircall request.
    let logged = match (for_crm, call_id(event_data)) {
        (true, Some(id)) if !calls_read.contains_key(&id) => {
            crm_call::logged(p, integration, id, event_data, occurred_at).await?
        }
        _ => true,
    };
    let mut content = read(p, config, integration, kind, event_data).await?;
    let call_id = call_id(&content).unwrap_or_default();
    let content_id = id::content_id(&integration.id, call_id, kind, &content);
    match event_data
        .get("transcript_url")
        .filter(|_| imported::handed(event_data).is_some())
    {
        // Archived by the imported call's job already.
        Some(link) => {
            content.insert("transcript_url".into(), link.clone());
        }
        None => archive::keep_transcript(
            p,
            config,
            &integration.id,
            call_id,
            &mut content,
            link_seconds,
        )
        .await
        .map_err(AiError::Infra)?,
    }
    if !for_crm {
        return Ok(Prepared {
            content_id,
            data: content,
        });
    }
    let call = match calls_read.get(&call_id) {
        Some(call) => Some(call.clone()),
        None if logged => None,
        None => crm_call::read(p, config, integration, call_id).await?,
    };
    if let Some(call) = call {
        calls_read.insert(call_id, call.clone());
        crm_call::about_numbers(integration, &call)?;
        content.insert("call".into(), Value::Object(call));
    }
    Ok(Prepared {
        content_id,
        data: content,
    })
}

/// Notes AI data delivered (`event`: `call.summary`, ...) as the integration's last; a store
/// failure is only logged: the delivery itself went through.
pub async fn delivered<P: Platform>(
    p: &P,
    integration_id: &str,
    event: &str,
    data: &Map<String, Value>,
) {
    let last = last::LastDelivered {
        event: event.to_string(),
        call_id: call_id(data).unwrap_or_default(),
        delivered_at: p.now_seconds(),
    };
    if let Err(e) = last::note(p, integration_id, &last).await {
        p.log(&format!(
            "integration {integration_id}: the last AI delivery could not be noted: {e}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::{Integrations, Status};
    use crate::testing::{answer, config, integration, run, MemoryPlatform};
    use serde_json::json;

    fn event(call_id: Value) -> Map<String, Value> {
        json!({"id": 9001, "call_id": call_id})
            .as_object()
            .unwrap()
            .clone()
    }

    /// Aircall answering every request with `status` and `body`.
    fn aircall(p: &MemoryPlatform, status: u16, body: &'static str) {
        p.respond(move |_| Ok(answer(status, &[], body)));
    }

    fn urls(p: &MemoryPlatform) -> Vec<String> {
        p.requests.borrow().iter().map(|r| r.url.clone()).collect()
    }

    #[test]
    fn one_request_reads_the_announced_data_and_carries_the_call_id() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.requests.borrow_mut().clear();
        let summary = r#"{"summary":{"id":1,"call_id":812,"created_at":"2025-11-24T10:00:00Z","content":"Payment question."}}"#;
        aircall(&p, 200, summary);
        let got = run(read(&p, &config(), &i, AiKind::Summary, &event(json!(812)))).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"call_id": 812, "summary": {"id": 1, "call_id": 812,
                "created_at": "2025-11-24T10:00:00Z", "content": "Payment question."}})
        );
        assert_eq!(urls(&p), ["https://aircall.test/v1/calls/812/summary"]);
        // A call id given as a string reads the same.
        assert_eq!(call_id(&event(json!("812"))), Some(812));
    }

    #[test]
    fn without_the_ai_package_one_request_a_day_and_the_integration_stays_active() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.requests.borrow_mut().clear();
        aircall(&p, 403, r#"{"message":"company is not active/verified"}"#);
        for _ in 0..5 {
            let error = run(read(
                &p,
                &config(),
                &i,
                AiKind::Transcription,
                &event(json!(1)),
            ));
            assert!(matches!(error, Err(AiError::Unavailable(_))), "{error:?}");
        }
        assert_eq!(urls(&p).len(), 1, "no ping, no second AI read");
        let stored = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        assert_eq!(stored.status, Status::Active);
        let since = run(availability::get(&p, &i.id)).unwrap().unwrap().since;

        // A day later, one more try; the package bought meanwhile, AI data flows again.
        p.now_ms
            .set(p.now_ms.get() + availability::RECHECK_SECONDS * 1000);
        aircall(
            &p,
            200,
            r#"{"topic":{"id":2,"call_id":1,"content":["payment"]}}"#,
        );
        assert!(run(read(&p, &config(), &i, AiKind::Topics, &event(json!(1)))).is_ok());
        assert_eq!(urls(&p).len(), 2);
        assert_eq!(run(availability::get(&p, &i.id)).unwrap(), None);
        assert!(since > 0);
    }

    #[test]
    fn a_call_without_data_is_given_up_and_a_401_deactivates() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        aircall(&p, 404, r#"{"error":"Not Found"}"#);
        let error = run(read(&p, &config(), &i, AiKind::Sentiment, &event(json!(3)))).unwrap_err();
        assert_eq!(error.disposition(), Disposition::Permanent);
        assert!(
            error.to_string().contains("sentiments of call 3"),
            "{error}"
        );
        let stored = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        assert_eq!(stored.status, Status::Active);

        aircall(&p, 401, r#"{"error":"Unauthorized"}"#);
        let error = run(read(&p, &config(), &i, AiKind::Summary, &event(json!(3)))).unwrap_err();
        assert_eq!(error.disposition(), Disposition::Permanent);
        let stored = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        assert_eq!(stored.status, Status::Inactive);
    }

    #[test]
    fn a_rate_limit_waits_and_an_event_without_a_call_asks_nothing() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.requests.borrow_mut().clear();
        aircall(&p, 429, "{}");
        let error = run(read(
            &p,
            &config(),
            &i,
            AiKind::ActionItems,
            &event(json!(4)),
        ))
        .unwrap_err();
        assert!(matches!(error.disposition(), Disposition::Wait(_)));
        let no_call = json!({"id": 1}).as_object().unwrap().clone();
        let error = run(read(&p, &config(), &i, AiKind::ActionItems, &no_call)).unwrap_err();
        assert!(matches!(error, AiError::NoCall));
        assert_eq!(urls(&p).len(), 1);
    }
}
