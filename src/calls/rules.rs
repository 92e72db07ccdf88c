//! Which calls are imported: Salescaling's rules (seed 001), each a setting.

use crate::aircall::Call;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportRules {
    /// Only calls started in the last this many days.
    pub window_days: u32,
    /// The first import brings at most this many calls (the most recent).
    pub initial_limit: u32,
    pub recording_required: bool,
    /// Recordings larger than this (bytes) are not imported.
    pub max_recording_bytes: u64,
    /// E-mails of the Aircall users whose calls are imported (any case); empty: everyone.
    pub users: Vec<String>,
    /// Where `users` comes from: the list above, or the e-mails of the HubSpot owners
    /// (Salescaling imports only its own paying users' calls).
    pub users_from: UsersFrom,
    /// A call skipped only for lacking a recording is looked at again for this long:
    /// recordings arrive after the call ends.
    pub recording_grace_hours: u32,
    /// A voicemail (an unanswered call's audio, at `voicemail`) counts as the call's
    /// recording: imported, archived and size-checked like one.
    pub voicemail_counts_as_recording: bool,
    /// `"when_available"`: each imported call also brings the Aircall AI data it already has
    /// (one AI event per kind the integration forwards); `"off"`: none.
    pub ai: String,
}

/// The values of `import.ai`.
pub const IMPORT_AI: [&str; 2] = ["off", "when_available"];

impl Default for ImportRules {
    fn default() -> Self {
        Self {
            window_days: 14,
            initial_limit: 200,
            recording_required: true,
            max_recording_bytes: 200 * 1024 * 1024,
            users: Vec::new(),
            users_from: UsersFrom::List,
            recording_grace_hours: 24,
            voicemail_counts_as_recording: true,
            ai: "off".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsersFrom {
    #[default]
    List,
    /// The e-mails of the HubSpot owners, read when the import runs (HubSpot destinations).
    HubspotOwners,
}

/// Why a call was not imported: shown in the run report, so "my calls are not being
/// imported" has an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    TooOld,
    NoUserMatch,
    NoRecording,
    RecordingTooLarge,
}

impl SkipReason {
    pub const ALL: [SkipReason; 4] = [
        SkipReason::TooOld,
        SkipReason::NoUserMatch,
        SkipReason::NoRecording,
        SkipReason::RecordingTooLarge,
    ];

    /// The reason's name, as the API shows it.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::TooOld => "too_old",
            SkipReason::NoUserMatch => "no_user_match",
            SkipReason::NoRecording => "no_recording",
            SkipReason::RecordingTooLarge => "recording_too_large",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl ImportRules {
    /// Imported calls bring the AI data they already have.
    pub fn imports_ai(&self) -> bool {
        self.ai == "when_available"
    }

    pub fn window_seconds(&self) -> i64 {
        i64::from(self.window_days) * 86_400
    }

    /// Every rule that needs no download, in the order the seed lists them.
    pub fn check(&self, call: &Call, now_seconds: i64) -> Result<(), SkipReason> {
        if call.started_at <= now_seconds - self.window_seconds() {
            return Err(SkipReason::TooOld);
        }
        if !self.users.is_empty() {
            let email = call
                .user
                .as_ref()
                .and_then(|u| u.email.as_deref())
                .map(str::trim);
            let matched =
                email.is_some_and(|e| self.users.iter().any(|u| u.trim().eq_ignore_ascii_case(e)));
            if !matched {
                return Err(SkipReason::NoUserMatch);
            }
        }
        if self.recording_required && self.audio(call).is_none() {
            return Err(SkipReason::NoRecording);
        }
        Ok(())
    }

    /// The link of the call's audio to archive: its recording, else its voicemail (unless
    /// voicemails do not count).
    pub fn audio<'c>(&self, call: &'c Call) -> Option<&'c str> {
        let link = |l: &'c Option<String>| l.as_deref().filter(|l| !l.is_empty());
        link(&call.recording)
            .or_else(|| link(&call.voicemail).filter(|_| self.voicemail_counts_as_recording))
    }

    /// These rules with `users` taken from the CRM's users (`users_from`). No CRM user at
    /// all imports nobody's calls, never everybody's.
    pub fn with_users(&self, emails: Vec<String>) -> Self {
        let users = if emails.is_empty() {
            vec![String::new()] // matches no Aircall user
        } else {
            emails
        };
        Self {
            users,
            ..self.clone()
        }
    }

    /// The size rule, once the recording's size is known (without downloading it).
    pub fn check_size(&self, bytes: u64) -> Result<(), SkipReason> {
        if bytes > self.max_recording_bytes {
            Err(SkipReason::RecordingTooLarge)
        } else {
            Ok(())
        }
    }

    /// Settings an admin can get wrong, named by field.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=180).contains(&self.window_days) {
            out.push((
                "window_days",
                "must be between 1 and 180 (Aircall keeps about six months)".into(),
            ));
        }
        if self.initial_limit == 0 {
            out.push(("initial_limit", "must be at least 1".into()));
        }
        if self.max_recording_bytes == 0 {
            out.push(("max_recording_bytes", "must be at least 1".into()));
        }
        if !IMPORT_AI.contains(&self.ai.as_str()) {
            out.push(("ai", "must be \"off\" or \"when_available\"".into()));
        }
        for (i, email) in self.users.iter().enumerate() {
            let email = email.trim();
            let looks_right = email
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
            if !looks_right {
                out.push(("users", format!("entry {i} is not an e-mail address")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000 + 3_600;

    fn call(overrides: serde_json::Value) -> Call {
        let mut base = json!({
            "id": 1, "started_at": 1_700_000_000, "recording": "https://r.example/1.mp3",
            "user": {"id": 4, "email": "Madeline@Example.com"}
        });
        for (k, v) in overrides.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn imports_a_recent_recorded_call_by_default() {
        assert_eq!(ImportRules::default().check(&call(json!({})), NOW), Ok(()));
    }

    #[test]
    fn skips_calls_older_than_the_window() {
        let rules = ImportRules::default();
        let edge = NOW - 14 * 86_400;
        assert_eq!(
            rules.check(&call(json!({"started_at": edge})), NOW),
            Err(SkipReason::TooOld)
        );
        assert_eq!(
            rules.check(&call(json!({"started_at": edge + 1})), NOW),
            Ok(())
        );
    }

    #[test]
    fn matches_users_by_email_in_any_case() {
        let rules = ImportRules {
            users: vec![" madeline@example.COM ".into()],
            ..Default::default()
        };
        assert_eq!(rules.check(&call(json!({})), NOW), Ok(()));
        let other = call(json!({"user": {"id": 5, "email": "paul@example.com"}}));
        assert_eq!(rules.check(&other, NOW), Err(SkipReason::NoUserMatch));
        assert_eq!(
            rules.check(&call(json!({"user": null})), NOW),
            Err(SkipReason::NoUserMatch)
        );
    }

    #[test]
    fn needs_a_recording_unless_told_otherwise() {
        let rules = ImportRules::default();
        assert_eq!(
            rules.check(&call(json!({"recording": null})), NOW),
            Err(SkipReason::NoRecording)
        );
        assert_eq!(
            rules.check(&call(json!({"recording": ""})), NOW),
            Err(SkipReason::NoRecording)
        );
        let relaxed = ImportRules {
            recording_required: false,
            ..Default::default()
        };
        assert_eq!(
            relaxed.check(&call(json!({"recording": null})), NOW),
            Ok(())
        );
    }

    #[test]
    fn import_ai_is_off_unless_asked_and_takes_two_values() {
        assert!(!ImportRules::default().imports_ai());
        let on: ImportRules = serde_json::from_value(json!({"ai": "when_available"})).unwrap();
        assert!(on.imports_ai() && on.problems().is_empty());
        let bad: ImportRules = serde_json::from_value(json!({"ai": "always"})).unwrap();
        assert_eq!(
            bad.problems(),
            vec![("ai", "must be \"off\" or \"when_available\"".to_string())]
        );
    }

    #[test]
    fn a_voicemail_counts_as_the_recording_unless_told_otherwise() {
        let voicemail = call(json!({"recording": null, "voicemail": "https://v.example/1.mp3"}));
        let rules = ImportRules::default();
        assert_eq!(rules.check(&voicemail, NOW), Ok(()));
        assert_eq!(rules.audio(&voicemail), Some("https://v.example/1.mp3"));
        let recorded = call(json!({"voicemail": "https://v.example/1.mp3"}));
        assert_eq!(rules.audio(&recorded), Some("https://r.example/1.mp3"));
        let strict = ImportRules {
            voicemail_counts_as_recording: false,
            ..Default::default()
        };
        assert_eq!(strict.check(&voicemail, NOW), Err(SkipReason::NoRecording));
        assert_eq!(strict.audio(&voicemail), None);
    }

    #[test]
    fn caps_the_recording_size() {
        let rules = ImportRules::default();
        assert_eq!(rules.check_size(200 * 1024 * 1024), Ok(()));
        assert_eq!(
            rules.check_size(200 * 1024 * 1024 + 1),
            Err(SkipReason::RecordingTooLarge)
        );
    }

    #[test]
    fn settings_parse_with_defaults_and_refuse_unknown_fields() {
        let rules: ImportRules = serde_json::from_value(json!({"window_days": 7})).unwrap();
        assert_eq!((rules.window_days, rules.initial_limit), (7, 200));
        assert!(serde_json::from_value::<ImportRules>(json!({"windw_days": 7})).is_err());
        let bad = ImportRules {
            window_days: 0,
            users: vec!["nobody".into()],
            ..Default::default()
        };
        let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec!["window_days", "users"]);
    }
}
