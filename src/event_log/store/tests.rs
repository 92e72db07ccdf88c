use super::memory::MemoryRows;
use super::*;
use crate::event_log::{Detail, Query};
use crate::testing::run;
use serde_json::{json, Map, Value};

const NOW: u64 = 1_763_980_000_000;

fn id(n: u64) -> String {
    format!("msg_{n:032x}")
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// The first step of event `n`, a call event about call `call` from `phone`.
fn received(n: u64, at: u64, event: &str, call: i64, phone: &str, status: Status) -> Entry {
    Entry {
        event_id: id(n),
        at_ms: at,
        event: event.into(),
        occurred_at: Some((at / 1000) as i64),
        status,
        reason: None,
        attempt: 1,
        delivery_id: Some(id(n)),
        destination: Some("webhook".into()),
        received: Some(obj(json!({"id": call, "raw_digits": phone}))),
        sent: None,
    }
}

fn query(f: impl FnOnce(&mut Query)) -> Query {
    let mut q = Query {
        limit: 50,
        ..Query::default()
    };
    f(&mut q);
    q
}

fn ids(page: &crate::event_log::Page) -> Vec<String> {
    page.events.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn a_new_event_gets_its_row_and_later_steps_join_its_history() {
    let rows = MemoryRows::default();
    let mut first = received(
        1,
        NOW,
        "call.ended",
        812,
        "+33 6 12 34 56 78",
        Status::Retrying,
    );
    first.reason = Some("the destination answered HTTP 503".into());
    run(append(&rows, vec![first])).unwrap();
    let mut second = received(
        1,
        NOW + 5_000,
        "call.ended",
        812,
        "+33 6 12 34 56 78",
        Status::Delivered,
    );
    second.attempt = 2;
    second.received = None;
    second.sent = Some(json!({"type": "call.ended", "data": {"id": 812}}));
    run(append(&rows, vec![second])).unwrap();

    let (row, body) = run(detail(&rows, &id(1))).unwrap().unwrap();
    let d = Detail::of(row, body);
    assert_eq!(d.summary.status, Status::Delivered);
    assert_eq!(
        (d.summary.received_at, d.summary.updated_at),
        (NOW, NOW + 5_000)
    );
    assert_eq!(d.summary.attempts, 2);
    let statuses: Vec<Status> = d.history.iter().map(|s| s.status).collect();
    assert_eq!(statuses, vec![Status::Retrying, Status::Delivered]);
    assert_eq!(
        d.history[0].reason.as_deref(),
        Some("the destination answered HTTP 503")
    );
    assert_eq!(
        d.received.unwrap().payload,
        json!({"id": 812, "raw_digits": "+33 6 12 34 56 78"})
    );
    assert_eq!(d.sent.unwrap().payload["data"]["id"], 812);
    // Indexes were written once, with the row.
    let keys: Vec<String> = rows.0.borrow().keys().cloned().collect();
    let sort = sort_key(NOW, &id(1));
    for key in [
        format!("t:{sort}"),
        format!("e:call.ended:{sort}"),
        format!("c:812:{sort}"),
        format!("p:33612345678:{sort}"),
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(keys.len(), 6, "row, body and 4 index entries: {keys:?}");
}

#[test]
fn steps_of_one_batch_for_one_event_are_written_in_order() {
    let rows = MemoryRows::default();
    let a = received(1, NOW, "call.ended", 1, "", Status::Waiting);
    let mut b = received(1, NOW + 1, "call.ended", 1, "", Status::Failed);
    b.received = None;
    run(append(&rows, vec![a, b])).unwrap();
    let (row, _) = run(detail(&rows, &id(1))).unwrap().unwrap();
    assert_eq!(row.history.len(), 2);
    assert_eq!(row.last.status, Status::Failed);
}

#[test]
fn history_keeps_the_last_steps_and_counts_the_others() {
    let rows = MemoryRows::default();
    let entries: Vec<Entry> = (0..(MAX_STEPS as u64 + 5))
        .map(|n| received(1, NOW + n, "call.ended", 1, "", Status::Waiting))
        .collect();
    run(append(&rows, entries)).unwrap();
    let (row, _) = run(detail(&rows, &id(1))).unwrap().unwrap();
    assert_eq!((row.history.len(), row.earlier_steps), (MAX_STEPS, 5));
    assert_eq!(row.summary().attempts, MAX_STEPS as u32 + 5);
}

fn sample(rows: &MemoryRows) {
    let mut entries = Vec::new();
    for n in 0..30u64 {
        let (event, call, phone) = match n % 3 {
            0 => ("call.ended", 800 + (n as i64 % 2), "+33 6 12 34 56 78"),
            1 => ("call.created", 900, "+1 415 555 0100"),
            _ => ("contact.created", 0, "+44 330 818 6690"),
        };
        let mut e = received(n, NOW + n * 1000, event, call, phone, Status::Delivered);
        if n % 3 == 2 {
            e.received = Some(obj(json!({"id": 5, "phone_numbers": [{"value": phone}]})));
        }
        entries.push(e);
    }
    run(append(rows, entries)).unwrap();
}

#[test]
fn search_by_event_call_id_phone_and_free_text_newest_first() {
    let rows = MemoryRows::default();
    sample(&rows);
    let now = NOW + 60_000;
    let all = run(search(&rows, &query(|_| {}), now)).unwrap();
    assert_eq!(all.events.len(), 30);
    assert_eq!(all.events[0].id, id(29), "newest first");
    assert_eq!(all.next, None);

    let created = run(search(
        &rows,
        &query(|q| q.event = Some("call.created".into())),
        now,
    ))
    .unwrap();
    assert_eq!(created.events.len(), 10);
    assert!(created.events.iter().all(|e| e.event == "call.created"));

    let call = run(search(&rows, &query(|q| q.call_id = Some(801)), now)).unwrap();
    // n % 3 == 0 and n odd: 3, 9, 15, 21, 27.
    assert_eq!(ids(&call), [27, 21, 15, 9, 3].map(id));

    let phone = run(search(
        &rows,
        &query(|q| q.phone = Some("443308186690".into())),
        now,
    ))
    .unwrap();
    assert_eq!(phone.events.len(), 10);
    assert!(phone.events.iter().all(|e| e.event == "contact.created"));

    let both = query(|q| {
        q.phone = Some("33612345678".into());
        q.event = Some("call.created".into());
    });
    assert!(run(search(&rows, &both, now)).unwrap().events.is_empty());

    for (q, count) in [
        ("call.", 20),
        ("801", 5),
        ("5550100", 10),
        ("5", 10),
        ("nothing", 0),
    ] {
        let found = run(search(&rows, &query(|x| x.q = Some(q.into())), now)).unwrap();
        assert_eq!(found.events.len(), count, "q={q}");
    }
}

#[test]
fn pages_follow_each_other_without_gaps_or_repeats() {
    let rows = MemoryRows::default();
    sample(&rows);
    let now = NOW + 60_000;
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let q = query(|q| {
            q.limit = 7;
            q.before = before.clone();
        });
        let page = run(search(&rows, &q, now)).unwrap();
        assert!(page.events.len() <= 7);
        seen.extend(ids(&page));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).rev().map(id).collect();
    assert_eq!(seen, expected);
    // Paging within an index too.
    let q = query(|q| {
        q.limit = 4;
        q.event = Some("call.ended".into());
    });
    let first = run(search(&rows, &q, now)).unwrap();
    let second = run(search(
        &rows,
        &Query {
            before: first.next.clone(),
            ..q
        },
        now,
    ))
    .unwrap();
    assert_eq!(ids(&first), [27, 24, 21, 18].map(id));
    assert_eq!(ids(&second), [15, 12, 9, 6].map(id));
}

#[test]
fn a_search_reads_a_bounded_number_of_entries_and_says_where_to_go_on() {
    let rows = MemoryRows::default();
    let entries: Vec<Entry> = (0..(MAX_SCAN as u64 + 10))
        .map(|n| received(n, NOW + n, "call.created", 1, "", Status::Delivered))
        .collect();
    run(append(&rows, entries)).unwrap();
    let q = query(|q| q.q = Some("user.".into()));
    let page = run(search(&rows, &q, NOW + 60_000)).unwrap();
    assert!(page.events.is_empty());
    let next = page.next.expect("a cursor to go on from");
    let rest = run(search(
        &rows,
        &Query {
            before: Some(next),
            ..q
        },
        NOW + 60_000,
    ))
    .unwrap();
    assert_eq!((rest.events.len(), rest.next), (0, None));
}

#[test]
fn events_older_than_seven_days_are_not_shown_and_are_removed_whole() {
    let rows = MemoryRows::default();
    let old = received(
        1,
        NOW,
        "call.ended",
        812,
        "+33 6 12 34 56 78",
        Status::Delivered,
    );
    let recent = received(
        2,
        NOW + 3_600_000,
        "call.ended",
        812,
        "+33 6 12 34 56 78",
        Status::Delivered,
    );
    run(append(&rows, vec![old, recent])).unwrap();
    let later = NOW + KEEP_MS + 1;
    let page = run(search(&rows, &query(|q| q.call_id = Some(812)), later)).unwrap();
    assert_eq!(ids(&page), vec![id(2)], "the old one is past the retention");

    assert_eq!(run(expire(&rows, later)).unwrap(), (1, false));
    let keys: Vec<String> = rows.0.borrow().keys().cloned().collect();
    assert!(keys.iter().all(|k| !k.contains(&id(1))), "{keys:?}");
    assert_eq!(keys.len(), 6, "the recent one whole");
    assert!(run(detail(&rows, &id(1))).unwrap().is_none());
}

#[test]
fn retention_goes_in_bounded_steps() {
    let rows = MemoryRows::default();
    let entries: Vec<Entry> = (0..(EXPIRE_PER_CALL as u64 + 3))
        .map(|n| received(n, NOW + n, "user.created", 0, "", Status::Filtered))
        .collect();
    run(append(&rows, entries)).unwrap();
    let later = NOW + KEEP_MS + 1_000_000;
    assert_eq!(run(expire(&rows, later)).unwrap(), (EXPIRE_PER_CALL, true));
    assert_eq!(run(expire(&rows, later)).unwrap(), (3, false));
    assert!(rows.0.borrow().is_empty());
}

#[test]
fn payloads_over_the_cap_are_kept_truncated() {
    let rows = MemoryRows::default();
    let mut e = received(1, NOW, "call.ended", 1, "", Status::Delivered);
    e.received = Some(obj(
        json!({"id": 1, "note": "x".repeat(crate::event_log::MAX_PAYLOAD_BYTES)}),
    ));
    run(append(&rows, vec![e])).unwrap();
    let (row, body) = run(detail(&rows, &id(1))).unwrap().unwrap();
    let kept = body.received.unwrap();
    assert!(kept.truncated && kept.payload.is_string());
    assert_eq!(row.subjects.call_id, Some(1), "searchable all the same");
}

#[test]
fn secrets_in_a_payload_never_reach_the_store() {
    let rows = MemoryRows::default();
    let mut e = received(1, NOW, "call.ended", 1, "", Status::Delivered);
    e.received = Some(obj(json!({"id": 1, "token": "aircall-webhook-token"})));
    e.sent = Some(json!({"headers": {"Authorization": "Bearer pat-secret"}, "write_key": "wk"}));
    run(append(&rows, vec![e])).unwrap();
    let stored: String = rows.0.borrow().values().cloned().collect();
    for secret in ["aircall-webhook-token", "pat-secret", "\"wk\""] {
        assert!(!stored.contains(secret), "{secret} stored");
    }
}
