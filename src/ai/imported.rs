//! An imported call's transcript (`import.ai: "when_available"`), read by the call's own job so
//! that the call record it delivers links to the archived copy. The content then goes on to
//! the call's transcription event, which delivers it without reading it again: still one
//! Aircall request for the transcript.

use super::{archive, read, AiError};
use crate::aircall::AiKind;
use crate::config::Config;
use crate::infra::InfraError;
use crate::integration::Integration;
use crate::ports::Platform;
use serde_json::{Map, Value};

/// In an imported transcription event's data: the transcript as the call's job read it
/// (`{"call_id", "transcription"}`); its archived copy's link is beside it, `transcript_url`.
pub const HANDED: &str = "read";

/// What the call's job learnt of its transcript.
#[derive(Debug, PartialEq)]
pub enum Transcript {
    /// Read and archived: `link` for the call record, `event_data` for the transcription event.
    Kept {
        link: String,
        event_data: Map<String, Value>,
    },
    /// Nothing to deliver: the call has no transcript (Aircall's 404) or the company no AI
    /// package (403, or known to lack it): no transcription event either.
    None,
    /// Not read now (Aircall busy or failing): the record goes without the link, and the
    /// transcription event reads it itself, as for a call that came by webhook.
    Later,
}

/// How long the job probing the AI package holds its claim.
const PROBE_MS: u64 = 30_000;

/// Whether an imported call's job reads its transcript now.
#[derive(Debug, PartialEq)]
pub enum Turn {
    /// It reads; `probing`: nobody knew whether Aircall serves the integration's AI data,
    /// and this job finds out (it holds the probe's claim).
    Read { probing: bool },
    /// Another job is finding out: this one waits a little, before any work.
    Wait,
}

/// Call jobs run side by side: while nobody knows whether Aircall serves the integration's AI
/// data, one job asks and the others wait for its answer, so that a company without the AI
/// package costs one request however many calls are imported at once. Asked before the
/// call's work (a wait then costs no download).
pub async fn turn<P: Platform>(p: &P, integration: &Integration) -> Result<Turn, InfraError> {
    let id = &integration.id;
    if super::availability::get(p, id).await?.is_some() || super::availability::seen(p, id).await? {
        return Ok(Turn::Read { probing: false });
    }
    let until = p.now_ms() + PROBE_MS;
    Ok(
        match p
            .claim(
                &crate::keys::gate_name(id),
                crate::keys::AI_PROBE_CLAIM,
                until,
            )
            .await?
        {
            true => Turn::Read { probing: true },
            false => Turn::Wait,
        },
    )
}

/// Reads and archives the transcript of an imported call (one Aircall request, none while the
/// company is known to lack the AI package). `link_seconds`: how long its link lasts;
/// `probing`: from [`turn`].
pub async fn transcript<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    call_id: i64,
    link_seconds: u64,
    probing: bool,
) -> Result<Transcript, InfraError> {
    let id = &integration.id;
    let mut event_data = Map::new();
    event_data.insert("call_id".into(), call_id.into());
    event_data.insert(super::IMPORTED.into(), true.into());
    let mut content = match read(p, config, integration, AiKind::Transcription, &event_data).await {
        Ok(content) => content,
        Err(AiError::Infra(e)) => return Err(e),
        Err(e @ AiError::NoneForImport { .. }) => {
            // Aircall serves the company's AI data: this call has no transcript.
            if probing {
                super::availability::note_seen(p, id).await?;
            }
            p.log(&format!(
                "integration {}: no transcript: {e}",
                integration.id
            ));
            return Ok(Transcript::None);
        }
        Err(e @ AiError::Unavailable(_)) => {
            p.log(&format!(
                "integration {}: no transcript: {e}",
                integration.id
            ));
            return Ok(Transcript::None);
        }
        Err(e) => {
            p.log(&format!(
                "integration {}: {e}; its transcription event reads it again",
                integration.id
            ));
            return Ok(Transcript::Later);
        }
    };
    if probing {
        super::availability::note_seen(p, id).await?;
    }
    archive::keep_transcript(
        p,
        config,
        &integration.id,
        call_id,
        &mut content,
        link_seconds,
    )
    .await?;
    // The link goes beside the content, not in it: the content is what was read.
    let Some(Value::String(link)) = content.remove("transcript_url") else {
        return Ok(Transcript::Later); // no transcript in Aircall's answer: nothing archived
    };
    event_data.insert(HANDED.into(), Value::Object(content));
    event_data.insert("transcript_url".into(), Value::String(link.clone()));
    Ok(Transcript::Kept { link, event_data })
}

/// The transcript an imported transcription event was handed (`None`: read it).
pub fn handed(event_data: &Map<String, Value>) -> Option<&Map<String, Value>> {
    match (event_data.get(super::IMPORTED), event_data.get(HANDED)) {
        (Some(Value::Bool(true)), Some(Value::Object(content))) => Some(content),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{answer, config, integration, run, MemoryPlatform};

    const TRANSCRIPT: &str =
        r#"{"transcription":{"id":5,"call_id":812,"content":{"language":"en","utterances":[]}}}"#;

    #[test]
    fn a_transcript_read_once_is_archived_linked_and_handed_on() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.requests.borrow_mut().clear();
        p.respond(|_| Ok(answer(200, &[], TRANSCRIPT)));
        let got = run(transcript(&p, &config(), &i, 812, 3_600, true)).unwrap();
        let Transcript::Kept { link, event_data } = got else {
            panic!("{got:?}")
        };
        assert!(
            link.contains(&format!(
                "/recordings/{}/812.transcript.json?expires=",
                i.id
            )),
            "{link}"
        );
        assert!(p
            .archive
            .borrow()
            .contains_key(&format!("recordings/{}/812.transcript.json", i.id)));
        let handed = handed(&event_data).unwrap();
        assert_eq!(handed["transcription"]["id"], 5);
        assert!(
            !handed.contains_key("transcript_url"),
            "the content as read: its id is the webhook's"
        );
        assert_eq!(event_data["transcript_url"], link.as_str());

        // The transcription event delivers it without a second read.
        let before = p.requests.borrow().len();
        let content = run(read(&p, &config(), &i, AiKind::Transcription, &event_data)).unwrap();
        assert_eq!(&content, handed);
        assert_eq!(p.requests.borrow().len(), before);
        assert_eq!(before, 1, "one Aircall request");
    }

    #[test]
    fn while_nobody_knows_whether_aircall_serves_ai_data_one_job_asks() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.requests.borrow_mut().clear();
        p.respond(|_| Ok(answer(200, &[], TRANSCRIPT)));
        // The first job asks; the others, meanwhile, wait.
        assert_eq!(run(turn(&p, &i)).unwrap(), Turn::Read { probing: true });
        assert_eq!(run(turn(&p, &i)).unwrap(), Turn::Wait);
        assert!(p.requests.borrow().is_empty());
        assert!(matches!(
            run(transcript(&p, &config(), &i, 812, 60, true)).unwrap(),
            Transcript::Kept { .. }
        ));
        // Aircall answered: every job reads.
        assert_eq!(run(turn(&p, &i)).unwrap(), Turn::Read { probing: false });
        assert_eq!(p.requests.borrow().len(), 1);

        // A company without the package is known as soon as its 403 came: no waiting either.
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(|_| Ok(answer(403, &[], "{}")));
        assert_eq!(run(turn(&p, &i)).unwrap(), Turn::Read { probing: true });
        assert_eq!(
            run(transcript(&p, &config(), &i, 1, 60, true)).unwrap(),
            Transcript::None
        );
        assert_eq!(run(turn(&p, &i)).unwrap(), Turn::Read { probing: false });
        // A call without a transcript (404) tells that the package is there too.
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(|_| Ok(answer(404, &[], "{}")));
        assert_eq!(run(turn(&p, &i)).unwrap(), Turn::Read { probing: true });
        assert_eq!(
            run(transcript(&p, &config(), &i, 1, 60, true)).unwrap(),
            Transcript::None
        );
        assert_eq!(run(turn(&p, &i)).unwrap(), Turn::Read { probing: false });
    }

    #[test]
    fn no_transcript_or_no_ai_package_is_none_and_a_busy_aircall_later() {
        let with = |status: u16, body: &'static str| {
            let p = MemoryPlatform::default();
            let (i, _, _) = integration(&p, None);
            p.respond(move |_| Ok(answer(status, &[("Retry-After", "30")], body)));
            let got = run(transcript(&p, &config(), &i, 1, 60, true)).unwrap();
            assert!(p.archive.borrow().is_empty());
            let unavailable = run(super::super::availability::get(&p, &i.id))
                .unwrap()
                .is_some();
            (got, unavailable)
        };
        assert_eq!(
            with(404, r#"{"error":"Not Found"}"#),
            (Transcript::None, false)
        );
        assert_eq!(with(429, "{}"), (Transcript::Later, false));
        assert_eq!(with(503, "{}"), (Transcript::Later, false));
        assert_eq!(
            with(403, r#"{"message":"company is not active/verified"}"#),
            (Transcript::None, true),
            "marked unavailable"
        );
        // A webhook's event (not imported) is never taken as handed content.
        let mut data = Map::new();
        data.insert(HANDED.into(), serde_json::json!({"transcription": {}}));
        assert_eq!(handed(&data), None);
    }
}
