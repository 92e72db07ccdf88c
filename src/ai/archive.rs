//! A call's transcript archived in R2 beside its recording (`recordings/{integration}/{call}
//! .transcript.json`, removed with the integration), and the signed link to it that the
//! delivered AI event carries (`transcript_url`), signed like recording links.

use crate::config::Config;
use crate::infra::InfraError;
use crate::ports::{Archive, Clock, StoreError};
use serde_json::{Map, Value};

/// The path of a call's archived transcript, as its link gives it.
pub fn transcript_path(integration_id: &str, call_id: i64) -> String {
    format!("/recordings/{integration_id}/{call_id}.transcript.json")
}

/// Stores the transcript in `content` (Aircall's answer, `{"transcription": {...}}`) and
/// adds its signed link, good for `link_seconds`, as `transcript_url`.
pub async fn keep_transcript<P: Archive + Clock>(
    p: &P,
    config: &Config,
    integration_id: &str,
    call_id: i64,
    content: &mut Map<String, Value>,
    link_seconds: u64,
) -> Result<(), InfraError> {
    let Some(transcription) = content.get("transcription") else {
        return Ok(());
    };
    let body = serde_json::to_vec(transcription).expect("JSON serializes");
    let key = crate::keys::transcript_key(integration_id, call_id);
    p.put_object(&key, body, "application/json")
        .await
        .map_err(|e| InfraError::from(StoreError(format!("transcript of call {call_id}: {e}"))))?;
    let path = transcript_path(integration_id, call_id);
    let expires = p.now_seconds() + link_seconds;
    let signature = config.links.sign(&path, expires);
    let link = format!(
        "{}{path}?expires={expires}&signature={signature}",
        config.public_base_url
    );
    content.insert("transcript_url".into(), Value::String(link));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{config, run, MemoryPlatform};
    use serde_json::json;

    #[test]
    fn the_transcript_is_kept_under_the_integration_s_recordings_with_a_signed_link() {
        let p = MemoryPlatform::default();
        let mut content =
            json!({"call_id": 812, "transcription": {"id": 1, "content": {"utterances": []}}})
                .as_object()
                .unwrap()
                .clone();
        run(keep_transcript(
            &p,
            &config(),
            "int_a",
            812,
            &mut content,
            3_600,
        ))
        .unwrap();
        let stored = p.archive.borrow()["recordings/int_a/812.transcript.json"].clone();
        assert_eq!(
            serde_json::from_slice::<Value>(&stored).unwrap(),
            content["transcription"]
        );
        let link = content["transcript_url"].as_str().unwrap();
        assert!(
            link.contains("/recordings/int_a/812.transcript.json?expires="),
            "{link}"
        );
        let expires: u64 = link
            .split("expires=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let signature = link.split("signature=").nth(1).unwrap();
        assert!(config()
            .links
            .verify(&transcript_path("int_a", 812), expires, signature));
        // A summary is not archived.
        let mut summary = json!({"call_id": 1, "summary": {}})
            .as_object()
            .unwrap()
            .clone();
        run(keep_transcript(
            &p,
            &config(),
            "int_a",
            1,
            &mut summary,
            3_600,
        ))
        .unwrap();
        assert!(!summary.contains_key("transcript_url"));
    }
}
