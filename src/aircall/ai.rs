//! Aircall AI ("AI Assist"): which webhook events announce AI data, and where each is read.

/// One kind of AI data Aircall produces for a call or voicemail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiKind {
    Transcription,
    Summary,
    Topics,
    Sentiment,
    ActionItems,
}

impl AiKind {
    pub const ALL: [AiKind; 5] = [
        AiKind::Transcription,
        AiKind::Summary,
        AiKind::Topics,
        AiKind::Sentiment,
        AiKind::ActionItems,
    ];

    /// The kind an Aircall webhook event announces (`summary.created`), if any.
    pub fn announced_by(event: &str) -> Option<AiKind> {
        AiKind::ALL.into_iter().find(|k| k.event() == event)
    }

    /// The webhook event Aircall sends when this data is ready.
    pub fn event(self) -> &'static str {
        match self {
            AiKind::Transcription => "transcription.created",
            AiKind::Summary => "summary.created",
            AiKind::Topics => "topics.created",
            AiKind::Sentiment => "sentiment.created",
            AiKind::ActionItems => "action_item.created",
        }
    }

    /// Where it is read: `GET /v1/calls/{id}/{path}`.
    pub fn path(self) -> &'static str {
        match self {
            AiKind::Transcription => "transcription",
            AiKind::Summary => "summary",
            AiKind::Topics => "topics",
            AiKind::Sentiment => "sentiments",
            AiKind::ActionItems => "action_items",
        }
    }

    /// What the connector delivers it as.
    pub fn delivered_event(self) -> &'static str {
        match self {
            AiKind::Transcription => "call.transcription",
            AiKind::Summary => "call.summary",
            AiKind::Topics => "call.topics",
            AiKind::Sentiment => "call.sentiment",
            AiKind::ActionItems => "call.action_items",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ai_event_names_its_kind_and_others_none() {
        for kind in AiKind::ALL {
            assert_eq!(AiKind::announced_by(kind.event()), Some(kind));
        }
        assert_eq!(
            AiKind::announced_by("action_item.created"),
            Some(AiKind::ActionItems)
        );
        assert_eq!(AiKind::announced_by("call.ended"), None);
        assert_eq!(AiKind::announced_by("custom_summary.created"), None);
    }
}
