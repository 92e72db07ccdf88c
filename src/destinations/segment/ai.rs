//! Aircall AI data as Segment tracks: one `track` per AI event (`call.transcription`,
//! `call.summary`, ...), the content as `properties`. A transcript over Segment's 32 KB per
//! message goes in parts, each a track of its own with `part` and `parts` and its own stable
//! `messageId`, so that nothing is cut: joined in order, the parts' utterances are the whole
//! transcript. Pure functions, no I/O.

use crate::aircall::AiKind;
use serde_json::{json, Map, Value};

/// Whether `event` is AI data the pipeline read for the destination (`call.summary`, ...).
pub fn is_ai_event(event: &str) -> bool {
    AiKind::ALL.iter().any(|k| k.delivered_event() == event)
}

/// Bytes a part keeps free under the limit for its `part`/`parts` numbers and rounding.
const PART_MARGIN: usize = 64;

/// The tracks for one AI delivery: one, or a transcript's parts when one track would pass
/// `limit` bytes. Other AI data over the limit is left to the usual trimming (which names
/// what it removed).
pub fn tracks(
    delivery_id: &str,
    event: &str,
    occurred_at: i64,
    data: &Map<String, Value>,
    limit: usize,
) -> Vec<Map<String, Value>> {
    let whole = track(delivery_id, event, occurred_at, data.clone());
    if super::mapping::size(&whole) <= limit {
        return vec![whole];
    }
    let Some(utterances) = utterances(data) else {
        return vec![whole];
    };
    // The track without its utterances: what every part repeats.
    let mut bare = data.clone();
    set_utterances(&mut bare, Vec::new());
    let mut shell = track(delivery_id, event, occurred_at, bare.clone());
    props(&mut shell).insert("part".into(), json!(99_999));
    props(&mut shell).insert("parts".into(), json!(99_999));
    let room = limit.saturating_sub(super::mapping::size(&shell) + PART_MARGIN);
    if room < 256 {
        // Its other fields alone fill a message: the usual trimming says what it removes.
        return vec![whole];
    }
    let groups = split(utterances, room);
    let parts = groups.len();
    groups
        .into_iter()
        .enumerate()
        .map(|(n, group)| {
            let mut data = bare.clone();
            set_utterances(&mut data, group);
            data.insert("part".into(), json!(n + 1));
            data.insert("parts".into(), json!(parts));
            track(&format!("{delivery_id}-{}", n + 1), event, occurred_at, data)
        })
        .collect()
}

/// A track of AI data: about the call (`aircall-call-{id}`: the AI data names no user).
fn track(id: &str, event: &str, occurred_at: i64, data: Map<String, Value>) -> Map<String, Value> {
    let call = super::mapping::id_text(data.get("call_id")).unwrap_or_default();
    let mut track = Map::new();
    track.insert("type".into(), json!("track"));
    track.insert("messageId".into(), json!(format!("{id}-track")));
    track.insert("event".into(), json!(event));
    track.insert("anonymousId".into(), json!(format!("aircall-call-{call}")));
    track.insert("timestamp".into(), json!(crate::time::rfc3339(occurred_at)));
    track.insert("properties".into(), Value::Object(data));
    track.insert(
        "context".into(),
        json!({"library": {"name": "aircall-connector", "version": env!("CARGO_PKG_VERSION")}}),
    );
    track
}

fn props(track: &mut Map<String, Value>) -> &mut Map<String, Value> {
    track
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .expect("a track has properties")
}

/// `transcription.content.utterances`, when the data is a transcript.
fn utterances(data: &Map<String, Value>) -> Option<&Vec<Value>> {
    data.get("transcription")?
        .get("content")?
        .get("utterances")?
        .as_array()
}

fn set_utterances(data: &mut Map<String, Value>, list: Vec<Value>) {
    if let Some(content) = data
        .get_mut("transcription")
        .and_then(|t| t.get_mut("content"))
        .and_then(Value::as_object_mut)
    {
        content.insert("utterances".into(), Value::Array(list));
    }
}

fn bytes(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |b| b.len())
}

/// The utterances in groups of at most `room` bytes each (commas counted), in order. An
/// utterance larger than `room` alone is cut into pieces of its `text`, each but the last
/// marked `"continued": true`, so that joining the texts gives it back.
fn split(utterances: &[Value], room: usize) -> Vec<Vec<Value>> {
    let mut groups: Vec<Vec<Value>> = vec![Vec::new()];
    let mut used = 0;
    for utterance in utterances {
        for piece in pieces(utterance, room) {
            let cost = bytes(&piece) + 1;
            if used + cost > room && !groups.last().is_some_and(Vec::is_empty) {
                groups.push(Vec::new());
                used = 0;
            }
            used += cost;
            groups.last_mut().expect("one is there").push(piece);
        }
    }
    groups
}

/// An utterance as it fits in `room` bytes: itself, or its text cut into pieces.
fn pieces(utterance: &Value, room: usize) -> Vec<Value> {
    if bytes(utterance) < room {
        return vec![utterance.clone()];
    }
    let Some(text) = utterance.get("text").and_then(Value::as_str) else {
        return vec![utterance.clone()];
    };
    let mut bare = utterance.clone();
    bare["text"] = json!("");
    bare["continued"] = json!(true);
    // Escaping can make a character take up to 6 bytes in JSON (`\u001f`).
    let chars_per_piece = (room.saturating_sub(bytes(&bare) + 8) / 6).max(1);
    let chars: Vec<char> = text.chars().collect();
    let count = chars.len().div_ceil(chars_per_piece).max(1);
    chars
        .chunks(chars_per_piece)
        .enumerate()
        .map(|(n, chunk)| {
            let mut piece = utterance.clone();
            piece["text"] = json!(chunk.iter().collect::<String>());
            if n + 1 < count {
                piece["continued"] = json!(true);
            }
            piece
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destinations::segment::mapping::size;

    fn transcript(utterances: Vec<Value>) -> Map<String, Value> {
        json!({"call_id": 812, "transcription": {"id": 5, "call_id": 812,
            "call_created_at": "2025-11-24T10:00:00Z", "type": "call",
            "content": {"language": "en", "utterances": utterances}}})
        .as_object()
        .unwrap()
        .clone()
    }

    fn utterance(n: usize, text: String) -> Value {
        json!({"start_time": n as f64, "end_time": n as f64 + 0.9, "text": text,
            "participant_type": if n.is_multiple_of(2) { "internal" } else { "external" }, "user_id": 456})
    }

    /// The utterances of the parts, joined in order, pieces of one utterance joined again.
    fn joined(tracks: &[Map<String, Value>]) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        let mut continuing = false;
        for track in tracks {
            for u in utterances(track["properties"].as_object().unwrap()).unwrap() {
                let mut u = u.clone();
                let continues = u.as_object_mut().unwrap().remove("continued").is_some();
                if continuing {
                    let last = out.last_mut().unwrap();
                    let text = format!("{}{}", last["text"].as_str().unwrap(), u["text"].as_str().unwrap());
                    last["text"] = json!(text);
                } else {
                    out.push(u);
                }
                continuing = continues;
            }
        }
        out
    }

    #[test]
    fn a_short_ai_event_is_one_track_about_its_call() {
        let data = json!({"call_id": 812, "summary": {"id": 1, "call_id": 812, "content": "Refund."}});
        let data = data.as_object().unwrap().clone();
        let got = tracks("msg_a", "call.summary", 1_700_000_000, &data, 32_000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["messageId"], "msg_a-track");
        assert_eq!(got[0]["event"], "call.summary");
        assert_eq!(got[0]["anonymousId"], "aircall-call-812");
        assert_eq!(got[0]["properties"], Value::Object(data));
        assert!(is_ai_event("call.transcription") && !is_ai_event("call.ended"));
    }

    #[test]
    fn a_long_transcript_goes_in_numbered_parts_under_the_limit_and_nothing_is_lost() {
        let list: Vec<Value> = (0..600)
            .map(|n| utterance(n, format!("Utterance {n}: {}", "word ".repeat(20))))
            .collect();
        let data = transcript(list.clone());
        assert!(size(&data) > 60_000);
        let got = tracks("msg_t", "call.transcription", 1, &data, 32_000);
        assert!(got.len() >= 3, "{} parts", got.len());
        for (n, track) in got.iter().enumerate() {
            assert!(size(track) <= 32_000, "part {n}: {} bytes", size(track));
            assert_eq!(track["messageId"], format!("msg_t-{}-track", n + 1));
            assert_eq!(track["properties"]["part"], n + 1);
            assert_eq!(track["properties"]["parts"], got.len());
            assert_eq!(track["properties"]["transcription"]["id"], 5);
            assert_eq!(track["properties"]["call_id"], 812);
        }
        assert_eq!(joined(&got), list);
        // The same transcript gives the same parts: a replay has the same messageIds.
        assert_eq!(tracks("msg_t", "call.transcription", 1, &data, 32_000), got);
    }

    #[test]
    fn an_utterance_longer_than_a_message_is_cut_into_pieces_that_join_again() {
        let list = vec![
            utterance(0, "short".into()),
            utterance(1, "é\u{1f}\"".repeat(20_000)),
            utterance(2, "end".into()),
        ];
        let got = tracks("msg_l", "call.transcription", 1, &transcript(list.clone()), 32_000);
        assert!(got.len() >= 4, "{} parts", got.len());
        assert!(got.iter().all(|t| size(t) <= 32_000));
        assert_eq!(joined(&got), list);
    }
}
