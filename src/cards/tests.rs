use super::*;
use crate::aircall::WebhookEvent;
use crate::crm::cards::InsightCards;
use crate::ports::HttpRequest;
use crate::testing::{answer, config, destination, integration_to, run, MemoryPlatform};
use serde_json::json;

const HUBSPOT: &str = "https://api.hubapi.com";

/// A HubSpot integration with cards on (`unknown` for unknown callers).
fn with_cards(p: &MemoryPlatform, unknown: UnknownCaller) -> Integration {
    p.now_ms.set(1_772_618_400_000);
    let (mut i, _) = integration_to(
        p,
        destination(json!({"type": "hubspot", "access_token": "pat-na1-x"})),
        None,
    );
    i.insight_cards = Some(InsightCards {
        enabled: true,
        unknown_caller: unknown,
        ..InsightCards::default()
    });
    run(Integrations::new(p).save(&i)).unwrap();
    i
}

fn ringing(i: &Integration, call_id: i64, direction: &str, number: &str) -> CardJob {
    let body = json!({"event": "call.created", "token": "t", "timestamp": 1_772_618_399,
                      "data": {"id": call_id, "direction": direction, "raw_digits": number}});
    let event = WebhookEvent::parse(body.to_string().as_bytes()).unwrap();
    CardJob::from_webhook(i, &event, 1_772_618_400).expect("a card is asked for")
}

/// HubSpot as it answers for Ann Lee, typed "(415) 555-0100", and Aircall taking cards.
fn crm_knows_ann(request: &HttpRequest) -> crate::ports::HttpResponse {
    let contact = r#"{"id":"1001","properties":{"firstname":"Ann","lastname":"Lee","company":"Acme",
        "hubspot_owner_id":"301","lifecyclestage":"customer","phone":"(415) 555-0100",
        "notes_last_updated":"2026-03-01T10:00:00.000Z","notes_last_contacted":"2026-03-01T10:00:00.000Z"}}"#;
    let url = request.url.as_str();
    let body = String::from_utf8_lossy(&request.body);
    match (request.method, url.strip_prefix(HUBSPOT).unwrap_or(url)) {
        ("POST", "/crm/v3/objects/contacts/search") if body.contains("(415) 555-0100") => {
            answer(200, &[], &format!(r#"{{"total":1,"results":[{contact}]}}"#))
        }
        ("POST", "/crm/v3/objects/contacts/search") => {
            answer(200, &[], r#"{"total":0,"results":[]}"#)
        }
        ("GET", path) if path.starts_with("/crm/v3/objects/contacts/1001?") => {
            answer(200, &[], contact)
        }
        ("GET", path) if path.starts_with("/crm/v3/owners") => answer(
            200,
            &[],
            r#"{"results":[{"id":"301","email":"bob@example.com","firstName":"Bob","lastName":"Smith"}]}"#,
        ),
        ("GET", "/account-info/v3/details") => {
            answer(200, &[], r#"{"portalId":42,"uiDomain":"app.hubspot.com"}"#)
        }
        ("POST", "/crm/v3/objects/deals/search") => answer(
            200,
            &[],
            r#"{"total":2,"results":[{"id":"7","properties":{"dealname":"Big","amount":"25000.5","dealstage":"contractsent"}}]}"#,
        ),
        ("POST", path) if path.ends_with("/insight_cards") => answer(201, &[], "{}"),
        _ => answer(404, &[], r#"{"message":"not here"}"#),
    }
}

fn requests_to(p: &MemoryPlatform, host: &str) -> Vec<String> {
    p.requests
        .borrow()
        .iter()
        .filter(|r| r.url.starts_with(host))
        .map(|r| format!("{} {}", r.method, r.url.split('?').next().unwrap_or("")))
        .collect()
}

#[test]
fn a_known_caller_gets_one_card_from_a_contact_typed_in_national_format() {
    let p = MemoryPlatform::default();
    let i = with_cards(&p, UnknownCaller::None);
    p.respond(|r| Ok(crm_knows_ann(r)));
    let job = ringing(&i, 812, "inbound", "+1 415-555-0100");
    assert_eq!(job.number, "+14155550100");
    assert_eq!(run(post(&p, &config(), &job)), Posted::Card);

    let aircall = requests_to(&p, "https://aircall.test");
    assert_eq!(
        aircall,
        vec!["POST https://aircall.test/v1/calls/812/insight_cards"]
    );
    let card: Value = serde_json::from_slice(&p.requests.borrow().last().unwrap().body).unwrap();
    assert_eq!(
        card["contents"],
        json!([
            {"type": "title", "text": "Ann Lee", "link": "https://app.hubspot.com/contacts/42/record/0-1/1001"},
            {"type": "shortText", "label": "Company", "text": "Acme"},
            {"type": "shortText", "label": "Owner", "text": "Bob Smith"},
            {"type": "shortText", "label": "Lifecycle stage", "text": "Customer"},
            {"type": "shortText", "label": "Open deals", "text": "2 open · largest 25,000.50 (Contract sent)"},
            // Logged by someone else than the connector: HubSpot's last-activity date only.
            {"type": "shortText", "label": "Last activity", "text": "2026-03-01"},
        ])
    );
    // The number searched and the deals read; the first card also read the owners and the
    // portal, kept for the next ones.
    assert_eq!(requests_to(&p, HUBSPOT).len(), 4);

    // Aircall resends call.created: no second card, no request.
    p.requests.borrow_mut().clear();
    assert_eq!(
        run(post(&p, &config(), &job)),
        Posted::Nothing("this call's card was posted already")
    );
    assert!(p.requests.borrow().is_empty());

    // The next call from that number: the cached number is read by id, not searched.
    let next = ringing(&i, 813, "inbound", "+14155550100");
    assert_eq!(run(post(&p, &config(), &next)), Posted::Card);
    let hubspot = requests_to(&p, HUBSPOT);
    assert_eq!(
        hubspot,
        vec![
            "GET https://api.hubapi.com/crm/v3/objects/contacts/1001",
            "POST https://api.hubapi.com/crm/v3/objects/deals/search",
        ]
    );
    assert_eq!(
        run(stats(&p, &i.id)).unwrap(),
        json!({"posted": 2, "skipped": 0})
    );
}

#[test]
fn an_unknown_caller_gets_what_the_setting_says() {
    let p = MemoryPlatform::default();
    let i = with_cards(&p, UnknownCaller::None);
    p.respond(|r| Ok(crm_knows_ann(r)));
    let stranger = ringing(&i, 900, "inbound", "+33612345678");
    assert!(matches!(
        run(post(&p, &config(), &stranger)),
        Posted::Nothing(_)
    ));
    assert!(requests_to(&p, "https://aircall.test").is_empty());

    let i = with_cards(&p, UnknownCaller::Card);
    p.respond(|r| Ok(crm_knows_ann(r)));
    let stranger = ringing(&i, 901, "inbound", "+33612345678");
    assert_eq!(run(post(&p, &config(), &stranger)), Posted::Card);
    let card: Value = serde_json::from_slice(&p.requests.borrow().last().unwrap().body).unwrap();
    assert_eq!(card["contents"][0]["text"], "Unknown caller +33612345678");
    let link = card["contents"][1]["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "https://connector.test/cards/{}/new-contact/%2B33612345678?expires=",
            i.id
        )),
        "{link}"
    );

    // An outbound call to a number the CRM does not know: no card, whatever the setting.
    p.requests.borrow_mut().clear();
    let outbound = ringing(&i, 902, "outbound", "+33612345678");
    assert!(matches!(
        run(post(&p, &config(), &outbound)),
        Posted::Nothing(_)
    ));
    assert!(requests_to(&p, "https://aircall.test").is_empty());
}

#[test]
fn a_crm_rate_limit_or_outage_skips_the_card_and_counts_it() {
    let p = MemoryPlatform::default();
    let i = with_cards(&p, UnknownCaller::Card);
    p.respond(|r| {
        Ok(match r.url.starts_with(HUBSPOT) {
            true => answer(429, &[], r#"{"policyName":"TEN_SECONDLY_ROLLING"}"#),
            false => crm_knows_ann(r),
        })
    });
    let first = ringing(&i, 700, "inbound", "+14155550100");
    assert!(
        matches!(run(post(&p, &config(), &first)), Posted::Skipped(r) if r.contains("rate limit"))
    );
    p.respond(|r| {
        Ok(match r.url.starts_with(HUBSPOT) {
            true => answer(503, &[], r#"{"message":"down"}"#),
            false => crm_knows_ann(r),
        })
    });
    p.now_ms.set(p.now_ms.get() + 12_000); // past the 429's hold
    let second = ringing(&i, 701, "inbound", "+14155550100");
    assert!(matches!(run(post(&p, &config(), &second)), Posted::Skipped(r) if r.contains("503")));
    assert!(
        requests_to(&p, "https://aircall.test").is_empty(),
        "no card posted"
    );
    assert_eq!(
        run(stats(&p, &i.id)).unwrap(),
        json!({"posted": 0, "skipped": 2})
    );
}

#[test]
fn a_card_is_asked_for_only_by_a_fresh_call_created_with_a_number() {
    let p = MemoryPlatform::default();
    let i = with_cards(&p, UnknownCaller::None);
    let event = |name: &str, at: i64, digits: &str| {
        let body = json!({"event": name, "token": "t", "timestamp": at,
                          "data": {"id": 1, "direction": "inbound", "raw_digits": digits}});
        WebhookEvent::parse(body.to_string().as_bytes()).unwrap()
    };
    let now = 1_772_618_400;
    assert!(CardJob::from_webhook(&i, &event("call.created", now, "+14155550100"), now).is_some());
    assert!(CardJob::from_webhook(&i, &event("call.ended", now, "+14155550100"), now).is_none());
    assert!(CardJob::from_webhook(&i, &event("call.created", now, "anonymous"), now).is_none());
    assert!(
        CardJob::from_webhook(&i, &event("call.created", now - 600, "+14155550100"), now).is_none(),
        "a resend long after the ring"
    );
    let mut off = i.clone();
    off.insight_cards.as_mut().unwrap().enabled = false;
    assert!(
        CardJob::from_webhook(&off, &event("call.created", now, "+14155550100"), now).is_none()
    );
}

#[test]
fn live_work_has_room_when_bulk_work_spent_the_account_budget() {
    let p = MemoryPlatform::default();
    let i = with_cards(&p, UnknownCaller::None);
    p.respond(|r| Ok(crm_knows_ann(r)));
    // Imports spent all the budget bulk work may use (60 a minute: 54).
    let account = i.aircall_account.clone();
    let bulk = crate::budget::Rate::aircall(60, crate::budget::Priority::Bulk);
    while run(crate::ports::Gate::take(&p, &account, bulk)).unwrap() == crate::budget::Take::Granted
    {
    }
    let job = ringing(&i, 812, "inbound", "+14155550100");
    assert_eq!(run(post(&p, &config(), &job)), Posted::Card);
}

#[test]
fn a_cached_contact_whose_number_changed_is_forgotten_and_the_number_searched() {
    let p = MemoryPlatform::default();
    let i = with_cards(&p, UnknownCaller::None);
    p.respond(|r| Ok(crm_knows_ann(r)));
    // Ann had this number once; HubSpot now keeps (415) 555-0100 for her.
    run(remember_number(&p, &i.id, "+14155550199", "1001")).unwrap();
    let job = ringing(&i, 640, "inbound", "+14155550199");
    assert!(matches!(run(post(&p, &config(), &job)), Posted::Nothing(_)));
    let hubspot = requests_to(&p, HUBSPOT);
    assert_eq!(
        hubspot[0],
        "GET https://api.hubapi.com/crm/v3/objects/contacts/1001"
    );
    assert!(
        hubspot.contains(&"POST https://api.hubapi.com/crm/v3/objects/contacts/search".to_string())
    );
    assert_eq!(run(cache::cached(&p, &i.id, "+14155550199")).unwrap(), None);
    assert!(
        requests_to(&p, "https://aircall.test").is_empty(),
        "not Ann's card"
    );
}

#[test]
fn the_call_the_connector_logged_last_shows_whole_until_someone_logs_something_newer() {
    let p = MemoryPlatform::default();
    let i = with_cards(&p, UnknownCaller::None);
    p.respond(|r| Ok(crm_knows_ann(r)));
    // The connector logged a call with Ann at the time HubSpot has as her last activity.
    let ours = crate::crm::last_call::LastCall {
        call_id: 77,
        at: 1_772_359_200, // 2026-03-01T10:00:00Z
        logged_until: 1_772_359_200,
        outcome: Some("Connected".into()),
        title: Some("Inbound Aircall call from Ann Lee".into()),
        summary: Some("Wants a quote".into()),
    };
    run(crate::crm::last_call::remember(&p, &i.id, "1001", &ours)).unwrap();
    let job = ringing(&i, 812, "inbound", "+14155550100");
    assert_eq!(run(post(&p, &config(), &job)), Posted::Card);
    let card: Value = serde_json::from_slice(&p.requests.borrow().last().unwrap().body).unwrap();
    assert_eq!(
        card["contents"].as_array().unwrap().last().unwrap(),
        &json!({"type": "shortText", "label": "Last call", "text": "2026-03-01 · Connected · Wants a quote"})
    );

    // A note typed in HubSpot two hours later: its date, without our call's details.
    p.respond(|r| {
        let mut answer = crm_knows_ann(r);
        let text = String::from_utf8_lossy(&answer.body).replace(
            r#""notes_last_updated":"2026-03-01T10:00:00.000Z""#,
            r#""notes_last_updated":"2026-03-01T12:00:00.000Z""#,
        );
        answer.body = text.into_bytes();
        Ok(answer)
    });
    let next = ringing(&i, 813, "inbound", "+14155550100");
    assert_eq!(run(post(&p, &config(), &next)), Posted::Card);
    let card: Value = serde_json::from_slice(&p.requests.borrow().last().unwrap().body).unwrap();
    assert_eq!(
        card["contents"].as_array().unwrap().last().unwrap(),
        &json!({"type": "shortText", "label": "Last activity", "text": "2026-03-01"})
    );
}
