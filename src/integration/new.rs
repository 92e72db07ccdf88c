//! The bodies of `POST /api/integrations` and `PATCH`: which fields, which are required, and
//! how the fields check each other (a CRM for contact sync); each field itself is `fields`.

use super::fields::{
    ai_events_problem, insight_cards_problems, parse_contact_sync, parse_credentials,
    parse_destination, parse_events, parse_import, parse_insight_cards, parse_numbers,
    users_source_problem, CONTACT_SYNC_NEEDS_A_CRM,
};
use crate::aircall::Credentials;
use crate::calls::ImportRules;
use crate::contacts::ContactSync;
use crate::crm::cards::InsightCards;
use crate::destinations::NewDestination;
use crate::problems::{FieldError, Problems};
use crate::selection::NumberRef;
use serde_json::{Map, Value};

/// A valid request to create an integration.
#[derive(Debug)]
pub struct NewIntegration {
    pub name: String,
    pub credentials: Credentials,
    /// `None` only for an OAuth install: the admin gives it afterwards.
    pub destination: Option<NewDestination>,
    pub events: Option<Vec<String>>,
    pub import: ImportRules,
    /// Only events about these Aircall numbers are forwarded; `None`: every number.
    pub numbers: Option<Vec<NumberRef>>,
    pub contact_sync: Option<ContactSync>,
    pub insight_cards: Option<InsightCards>,
}

/// A valid `PATCH /api/integrations/{id}` body: the fields given, each checked as on creation.
#[derive(Debug, Default)]
pub struct IntegrationPatch {
    pub name: Option<String>,
    pub credentials: Option<Credentials>,
    pub destination: Option<NewDestination>,
    /// `Some(None)`: forward every event from now on.
    pub events: Option<Option<Vec<String>>>,
    /// The import fields given, to lay over the current rules (fields left out are kept).
    pub import: Option<Map<String, Value>>,
    /// `Some(None)`: contact sync off.
    pub contact_sync: Option<Option<ContactSync>>,
    /// `Some(None)`: events about every number from now on.
    pub numbers: Option<Option<Vec<NumberRef>>>,
    /// `Some(None)`: insight cards off.
    pub insight_cards: Option<Option<InsightCards>>,
}

/// The fields of a creation body, and of a `PATCH` (which takes any of them).
const FIELDS: &[&str] = &[
    "name",
    "aircall",
    "destination",
    "events",
    "import",
    "numbers",
    "contact_sync",
    "insight_cards",
];

impl NewIntegration {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut p = Problems::default();
        let Some(root) = p.object(Some(body), "", FIELDS) else {
            return Err(p.0);
        };
        let name = p.text(root, "", "name", 100);

        let credentials = parse_credentials(&mut p, root.get("aircall"));

        let destination = parse_destination(&mut p, root.get("destination"), true);

        let events = parse_events(&mut p, root.get("events"));
        // Unless told otherwise, the destination's default selection (a Segment integration:
        // the 26 events of Aircall's own Segment source and the AI events); without one, every event.
        let events = events.or_else(|| {
            let defaults = destination.as_ref()?.destination.default_events()?;
            Some(defaults.iter().map(|e| e.to_string()).collect())
        });
        let import = parse_import(&mut p, root.get("import"));
        let crm = destination.as_ref().is_some_and(|d| d.destination.is_crm());
        p.0.extend(users_source_problem(&import, crm));
        p.0.extend(ai_events_problem(crm, events.as_deref()));
        let numbers = parse_numbers(&mut p, root.get("numbers"));
        let contact_sync = parse_contact_sync(&mut p, root.get("contact_sync"));
        if contact_sync.is_some() && !crm {
            p.add("contact_sync", CONTACT_SYNC_NEEDS_A_CRM);
        }
        let insight_cards = parse_insight_cards(&mut p, root.get("insight_cards"));
        p.0.extend(insight_cards_problems(
            insight_cards.as_ref(),
            crm,
            events.as_deref(),
        ));

        match (name, credentials, destination, p.0.is_empty()) {
            (Some(name), Some(credentials), Some(destination), true) => Ok(Self {
                name,
                credentials,
                destination: Some(destination),
                events,
                import,
                numbers,
                contact_sync,
                insight_cards,
            }),
            _ => Err(p.0),
        }
    }
}

impl IntegrationPatch {
    /// The fields to change; every problem is reported, and nothing is changed on any.
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut p = Problems::default();
        let Some(root) = p.object(Some(body), "", FIELDS) else {
            return Err(p.0);
        };
        if root.is_empty() {
            p.add("body", "name at least one field to change");
        }
        let mut patch = IntegrationPatch::default();
        if root.contains_key("name") {
            patch.name = p.text(root, "", "name", 100);
        }
        if root.contains_key("aircall") {
            patch.credentials = parse_credentials(&mut p, root.get("aircall"));
        }
        if root.contains_key("destination") {
            patch.destination = parse_destination(&mut p, root.get("destination"), false);
        }
        if root.contains_key("events") {
            patch.events = Some(parse_events(&mut p, root.get("events")));
        }
        if root.contains_key("contact_sync") {
            patch.contact_sync = Some(parse_contact_sync(&mut p, root.get("contact_sync")));
        }
        if root.contains_key("insight_cards") {
            patch.insight_cards = Some(parse_insight_cards(&mut p, root.get("insight_cards")));
        }
        if root.contains_key("numbers") {
            patch.numbers = Some(parse_numbers(&mut p, root.get("numbers")));
        }
        match root.get("import") {
            None => {}
            Some(Value::Object(fields)) => {
                // Checked over the defaults here; laid over the current rules when applied.
                parse_import(&mut p, Some(&Value::Object(fields.clone())));
                patch.import = Some(fields.clone());
            }
            Some(_) => p.add("import", "must be an object of the import fields to change"),
        }
        if p.0.is_empty() {
            Ok(patch)
        } else {
            Err(p.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::{is_event_name, merge_import, MAX_EVENTS, MAX_NUMBERS};
    use serde_json::json;

    #[test]
    fn insight_cards_need_a_crm_and_call_created() {
        let fields = |body: Value| -> Vec<String> {
            NewIntegration::parse(&body)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        let mut body = good();
        body["insight_cards"] = json!({"enabled": true});
        assert_eq!(
            fields(body.clone()),
            vec!["insight_cards", "insight_cards.enabled"],
            "a webhook is no CRM, and call.created is not chosen"
        );
        body["destination"] = json!({"type": "hubspot", "access_token": "pat-na1-x"});
        assert_eq!(
            fields(body.clone()),
            vec!["insight_cards.enabled"],
            "call.created not chosen"
        );
        body["events"] = json!(["call.created", "call.ended"]);
        let new = NewIntegration::parse(&body).unwrap();
        assert!(new.insight_cards.unwrap().enabled);
        body["events"] = Value::Null;
        assert!(
            NewIntegration::parse(&body).is_ok(),
            "every event includes call.created"
        );
        body["insight_cards"] =
            json!({"enabled": true, "blocks": ["deals", "fax"], "unknown_caller": "maybe"});
        assert_eq!(
            fields(body),
            vec!["insight_cards.blocks[1]", "insight_cards.unknown_caller"]
        );
    }

    #[test]
    fn a_crm_with_ai_events_needs_call_ended() {
        let mut body = good();
        body["events"] = json!(["summary.created", "call.created"]);
        assert!(
            NewIntegration::parse(&body).is_ok(),
            "a webhook gets AI data without its call"
        );
        body["destination"] = json!({"type": "hubspot", "access_token": "pat-na1-x"});
        let problems = NewIntegration::parse(&body).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "events");
        assert!(
            problems[0].message.contains("call.ended"),
            "{}",
            problems[0].message
        );
        body["events"] = json!(["summary.created", "call.ended"]);
        assert!(NewIntegration::parse(&body).is_ok());
        body["events"] = json!(["call.created"]);
        assert!(NewIntegration::parse(&body).is_ok(), "no AI event");
        body["events"] = Value::Null;
        assert!(NewIntegration::parse(&body).is_ok(), "every event");
    }

    fn good() -> Value {
        json!({
            "name": "Sales team",
            "aircall": {"api_id": "id123", "api_token": "tok456"},
            "destination": {"type": "webhook", "url": "https://hooks.example.com/aircall"},
            "events": ["call.ended", "user.created.v2", "call.ended"]
        })
    }

    fn fields(body: Value) -> Vec<String> {
        NewIntegration::parse(&body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn accepts_a_complete_body() {
        let new = NewIntegration::parse(&good()).unwrap();
        assert_eq!(new.name, "Sales team");
        assert_eq!(
            new.events,
            Some(vec![
                "call.ended".to_string(),
                "user.created.v2".to_string()
            ])
        );
        let Some(crate::destinations::NewDestination {
            destination: crate::destinations::Destination::Webhook(settings),
            secret,
        }) = new.destination
        else {
            panic!("a destination")
        };
        let url = settings.url;
        assert_eq!(url, "https://hooks.example.com/aircall");
        assert!(secret.is_none());
    }

    #[test]
    fn events_may_be_left_out_for_all_events() {
        let mut body = good();
        body.as_object_mut().unwrap().remove("events");
        assert_eq!(NewIntegration::parse(&body).unwrap().events, None);
    }

    #[test]
    fn reports_every_bad_field_by_name() {
        let body = json!({
            "name": "  ",
            "aircall": {"api_id": 5},
            "destination": {"type": "webhook", "url": "ftp://x", "secret": "nope"},
            "events": ["call.ended", "Not An Event"],
            "colour": "red"
        });
        let mut got = fields(body);
        got.sort();
        assert_eq!(
            got,
            vec![
                "aircall.api_id",
                "aircall.api_token",
                "colour",
                "destination.secret",
                "destination.url",
                "events[1]",
                "name"
            ]
        );
    }

    #[test]
    fn rejects_wrong_shapes() {
        assert_eq!(fields(json!([1, 2])), vec!["body"]);
        assert_eq!(fields(json!({})), vec!["name", "aircall", "destination"]);
        let mut body = good();
        body["destination"]["type"] = json!("sftp");
        assert_eq!(fields(body), vec!["destination.type"]);
        let mut body = good();
        body["events"] = json!([]);
        assert_eq!(fields(body), vec!["events"]);
    }

    fn segment(extra: Value) -> Value {
        let mut body = json!({
            "name": "Segment",
            "aircall": {"api_id": "id123", "api_token": "tok456"},
            "destination": {"type": "segment", "write_key": "wk_0123", "region": "eu"},
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    #[test]
    fn a_segment_destination_defaults_to_the_seeds_26_events_and_the_ai_events() {
        let new = NewIntegration::parse(&segment(json!({}))).unwrap();
        let Some(crate::destinations::NewDestination {
            destination: crate::destinations::Destination::Segment(settings),
            secret: Some(write_key),
        }) = &new.destination
        else {
            panic!()
        };
        assert_eq!(
            (write_key.as_str(), settings.region),
            ("wk_0123", crate::destinations::segment::Region::Eu)
        );
        // The seed's 26 and the 5 AI events.
        assert_eq!(new.events.as_ref().unwrap().len(), 31);
        assert!(new
            .events
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e == "summary.created"));
        assert_eq!(new.numbers, None);
        // null for the whole selection: the default too.
        let new = NewIntegration::parse(&segment(json!({"events": null}))).unwrap();
        assert_eq!(new.events.unwrap().len(), 31);
    }

    #[test]
    fn emptied_or_null_entries_turn_events_off() {
        let body = segment(json!({"events": ["call.ended", null, "null", "", "message.sent"]}));
        let new = NewIntegration::parse(&body).unwrap();
        assert_eq!(
            new.events,
            Some(vec!["call.ended".to_string(), "message.sent".to_string()])
        );
        assert_eq!(
            fields(segment(json!({"events": [null, ""]}))),
            vec!["events"]
        );
        assert_eq!(fields(segment(json!({"events": []}))), vec!["events"]);
    }

    #[test]
    fn segment_fields_are_checked_one_by_one() {
        let body = json!({
            "name": "S",
            "aircall": {"api_id": "id123", "api_token": "tok456"},
            "destination": {"type": "segment", "write_key": "has space", "region": "asia", "url": "https://x.test"},
            "numbers": [789, "+33 1 76 36 06 95", "abc", 0, true]
        });
        let mut got = fields(body);
        got.sort();
        assert_eq!(
            got,
            vec![
                "destination.region",
                "destination.url",
                "destination.write_key",
                "numbers[2]",
                "numbers[3]",
                "numbers[4]"
            ]
        );
        let missing = json!({
            "name": "S",
            "aircall": {"api_id": "id123", "api_token": "tok456"},
            "destination": {"type": "segment"},
            "numbers": []
        });
        let mut got = fields(missing);
        got.sort();
        assert_eq!(
            got,
            vec!["destination.region", "destination.write_key", "numbers"]
        );
    }

    #[test]
    fn numbers_are_ids_or_phone_numbers() {
        let new = NewIntegration::parse(&segment(
            json!({"numbers": [789, "+33 1 76 36 06 95", 789]}),
        ))
        .unwrap();
        assert_eq!(
            new.numbers,
            Some(vec![
                NumberRef::Id(789),
                NumberRef::Digits("+33176360695".into())
            ])
        );
    }

    #[test]
    fn accepts_a_bearer_token_but_not_both_kinds() {
        let mut body = good();
        body["aircall"] = json!({"access_token": "tok"});
        assert!(matches!(
            NewIntegration::parse(&body).unwrap().credentials,
            Credentials::Bearer { .. }
        ));
        body["aircall"] = json!({"access_token": "tok", "api_id": "x"});
        assert_eq!(fields(body), vec!["aircall"]);
    }

    #[test]
    fn a_patch_takes_only_the_fields_given_and_names_every_bad_one() {
        let patch = IntegrationPatch::parse(&json!({"name": "New", "events": null})).unwrap();
        assert_eq!(patch.name.as_deref(), Some("New"));
        assert_eq!(patch.events, Some(None));
        assert!(patch.credentials.is_none() && patch.destination.is_none());

        let patch_fields = |body: Value| -> Vec<String> {
            let mut f: Vec<String> = IntegrationPatch::parse(&body)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect();
            f.sort();
            f
        };
        assert_eq!(patch_fields(json!({})), vec!["body"]);
        assert_eq!(
            patch_fields(
                json!({"name": "", "aircall": {"api_id": "x"}, "import": {"window_days": 0},
                                "events": [], "colour": 1})
            ),
            vec![
                "aircall.api_token",
                "colour",
                "events",
                "import.window_days",
                "name"
            ]
        );
    }

    #[test]
    fn import_changes_keep_the_fields_left_out() {
        let rules = ImportRules {
            window_days: 7,
            ..ImportRules::default()
        };
        let changes = json!({"initial_limit": 50});
        let merged = merge_import(&rules, changes.as_object().unwrap()).unwrap();
        assert_eq!((merged.window_days, merged.initial_limit), (7, 50));
    }

    #[test]
    fn recognises_event_names() {
        for ok in [
            "call.ended",
            "user.created.v2",
            "call.ringing_on_agent",
            "integration.deleted",
        ] {
            assert!(is_event_name(ok), "{ok}");
        }
        for bad in [
            "call",
            "call.",
            ".ended",
            "Call.Ended",
            "call ended",
            "call..ended",
        ] {
            assert!(!is_event_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_token_with_non_ascii_or_invisible_characters_is_refused_naming_its_field() {
        let cases = [
            (
                "aircall",
                json!({"api_id": "id123", "api_token": "tok\u{e9}456"}),
                "aircall.api_token",
            ),
            (
                "aircall",
                json!({"access_token": "tok\u{200b}en"}),
                "aircall.access_token",
            ),
            (
                "aircall",
                json!({"api_id": "id123", "api_token": "tok\r\nX-Evil: 1"}),
                "aircall.api_token",
            ),
            (
                "destination",
                json!({"type": "hubspot", "access_token": "pat-na1-\u{2013}tok"}),
                "destination.access_token",
            ),
            (
                "destination",
                json!({"type": "segment", "write_key": "tok\u{fffd}", "region": "us"}),
                "destination.write_key",
            ),
            (
                "destination",
                json!({"type": "webhook", "url": "https://h.example/", "secret": "whsec_tok\u{e9}"}),
                "destination.secret",
            ),
        ];
        for (part, value, field) in cases {
            let mut body = good();
            body[part] = value;
            let errors = NewIntegration::parse(&body).unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, field);
            // The message never repeats the token.
            assert!(!errors[0].message.contains("tok"), "{}", errors[0].message);
        }
        let mut fine = good();
        fine["aircall"] = json!({"access_token": "eyJhbGciOi.J-_~+/=9"});
        assert!(NewIntegration::parse(&fine).is_ok());
    }

    #[test]
    fn oversized_lists_are_refused_at_their_limit_with_a_short_answer() {
        for (field, limit) in [("numbers", MAX_NUMBERS), ("events", MAX_EVENTS)] {
            let mut body = segment(json!({}));
            // ~900 KB of entries, every one of them wrong.
            body[field] = json!(vec!["x".repeat(40); 20_000]);
            let errors = NewIntegration::parse(&body).unwrap_err();
            let expected = format!("must name at most {limit} {field}");
            assert_eq!(errors.len(), 1, "{field}: {} problems", errors.len());
            assert_eq!(
                (errors[0].field.as_str(), errors[0].message.as_str()),
                (field, expected.as_str())
            );
        }
        // Many other problems at once: a bounded list, saying there are more.
        let mut body = good();
        let unknown: serde_json::Map<String, Value> = (0..20_000)
            .map(|n| (format!("field_{n}"), json!(1)))
            .collect();
        body["aircall"] = Value::Object(unknown);
        let errors = NewIntegration::parse(&body).unwrap_err();
        assert_eq!(errors.len(), crate::problems::MAX_PROBLEMS + 1);
        assert_eq!(errors.last().unwrap().field, "body");
        assert!(serde_json::to_vec(&errors).unwrap().len() < 10_000);
    }
}
