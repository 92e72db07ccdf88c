//! The card a webhook asks for: which call, which number, which way.

use crate::aircall::WebhookEvent;
use crate::integration::Integration;
use serde_json::Value;

/// A `call.created` older than this gets no card: the phone has stopped ringing (and a
/// resend by Aircall, which retries for hours, is recognised without remembering it longer).
pub const FRESH_SECONDS: i64 = 120;

/// A card to make, after the webhook is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CardJob {
    pub integration_id: String,
    pub call_id: i64,
    /// The other party's number, E.164.
    pub number: String,
    /// An inbound call (outbound calls get a card only when the CRM knows the number).
    pub inbound: bool,
}

impl CardJob {
    /// The card `event` asks for, if any: a recent `call.created` of an integration with
    /// cards on, with a number to look up (not `anonymous`).
    pub fn from_webhook(integration: &Integration, event: &WebhookEvent, now: i64) -> Option<Self> {
        let on = integration
            .insight_cards
            .as_ref()
            .is_some_and(|s| s.enabled);
        if !on || event.event != "call.created" {
            return None;
        }
        if event.timestamp.is_some_and(|t| now - t > FRESH_SECONDS) {
            return None;
        }
        let data = &event.data;
        let call_id = data.get("id").and_then(Value::as_i64)?;
        let inbound = match data.get("direction").and_then(Value::as_str) {
            Some("inbound") => true,
            Some("outbound") => false,
            _ => return None,
        };
        let number = e164(data.get("raw_digits").and_then(Value::as_str)?)?;
        Some(Self {
            integration_id: integration.id.clone(),
            call_id,
            number,
            inbound,
        })
    }
}

/// Aircall writes `raw_digits` internationally, with spaces (`+44 330 818 6690`): its E.164
/// form without the phone library (its start costs milliseconds of the 10 ms a request
/// has). Anything else (`anonymous`) has no number to look up.
pub(super) fn e164(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let digits = crate::selection::digits(raw);
    let only_formatting = raw
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()+".contains(c));
    (raw.starts_with('+')
        && only_formatting
        && (8..=15).contains(&digits.len())
        && !digits.starts_with('0'))
    .then(|| format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aircalls_numbers_without_the_phone_library() {
        assert_eq!(e164("+44 330 818 6690").as_deref(), Some("+443308186690"));
        assert_eq!(e164("+1 (415) 555-0100").as_deref(), Some("+14155550100"));
        assert_eq!(e164("anonymous"), None);
        assert_eq!(e164("0612345678"), None);
        assert_eq!(e164("+33 6 12 34 56 78 ext 9"), None);
    }
}
