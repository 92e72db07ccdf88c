//! Test code only: declared under `#[cfg(test)]` in mod.rs.
//! The contact passes' cursors, pass after pass, against fakes that answer as HubSpot and
//! Aircall do: HubSpot's search applies its filter groups (ORed, their filters ANDed), sorts on
//! one property with no promised order among equal values, and refuses what HubSpot refuses;
//! Aircall's contacts change with the connector's writes. The checks are what a user sees:
//! the numbers that reach Aircall, the contacts that reach HubSpot.

use crate::consumer::Job;
use crate::consumer::{handle_message, Ack};
use crate::ports::{HttpRequest, HttpResponse};
use crate::testing::{answer, config, run, MemoryPlatform};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

const HUBSPOT: &str = "https://api.hubapi.com/crm/v3/objects/contacts";
const AIRCALL: &str = "https://aircall.test/v1/contacts";
/// Aircall answers 400 to a list page past its 10,000th result.
const RESULT_CAP: usize = 10_000;

/// A HubSpot contact: its `lastmodifieddate` in ms, its properties.
type Contact = (u64, BTreeMap<String, String>);

#[derive(Default)]
struct Accounts {
    /// HubSpot contacts by id.
    hubspot: BTreeMap<u64, Contact>,
    /// Aircall contacts, in the API's shape.
    aircall: Vec<Value>,
    /// The search bodies HubSpot was sent, and the HubSpot ids of the contacts the connector
    /// handed to Aircall (what the passes read), in order.
    searches: Vec<Value>,
    read: Vec<u64>,
    /// The last id given to a phone number or e-mail of an Aircall contact.
    next_detail_id: u64,
    /// Aircall list requests refused for paging past the result cap.
    refused: usize,
    /// The contact after each API write, as Aircall's `contact.*` webhooks carry it.
    webhooks: Vec<Value>,
    /// HubSpot contacts updated through `batch/update`.
    hubspot_updates: usize,
}

#[derive(Clone)]
struct Fake {
    p: Rc<MemoryPlatform>,
    accounts: Rc<RefCell<Accounts>>,
}

impl Fake {
    /// A platform with an integration syncing contacts in `direction`, its HubSpot and
    /// Aircall answered by this fake.
    fn new(direction: &str) -> (Fake, String) {
        let p = Rc::new(MemoryPlatform::default());
        p.respond(|_| {
            Ok(answer(
                201,
                &[],
                r#"{"webhook":{"webhook_id":"wh-1","token":"t"}}"#,
            ))
        });
        let new = crate::integration::NewIntegration {
            name: "Contacts".into(),
            credentials: crate::aircall::Credentials::Basic {
                api_id: "id".into(),
                api_token: "token".into(),
            },
            destination: Some(crate::testing::destination(
                serde_json::json!({"type": "hubspot", "access_token": "pat-na1-x"}),
            )),
            events: None,
            import: Default::default(),
            numbers: None,
            contact_sync: Some(serde_json::from_value(json!({ "direction": direction })).unwrap()),
            insight_cards: None,
        };
        let id = run(crate::lifecycle::create(&*p, &config(), new))
            .unwrap()
            .integration
            .id;
        p.take_sent();
        let fake = Fake {
            p: p.clone(),
            accounts: Rc::default(),
        };
        let answering = fake.clone();
        p.respond(move |request| Ok(answering.answer(request)));
        (fake, id)
    }

    fn now_ms(&self) -> u64 {
        self.p.now_ms.get()
    }

    /// A contact created or edited in HubSpot at `modified_ms`.
    fn hubspot_edit(&self, id: u64, modified_ms: u64, properties: &[(&str, &str)]) {
        let mut accounts = self.accounts.borrow_mut();
        let contact = accounts.hubspot.entry(id).or_default();
        contact.0 = modified_ms;
        for (name, value) in properties {
            contact.1.insert(name.to_string(), value.to_string());
        }
    }

    /// Starts a pass on each side the integration syncs and runs everything it queues as the
    /// queue would, time passing by each message's delay. Answers the HubSpot ids it read.
    fn sync_now(&self, integration_id: &str) -> Vec<u64> {
        let p = &*self.p;
        run(crate::contact_sync::start_passes(p, integration_id)).unwrap();
        self.accounts.borrow_mut().read.clear();
        while let Some((queue, message, delay)) = p.next_sent() {
            p.now_ms.set(p.now_ms.get() + u64::from(delay) * 1000);
            if let Ok(Job::Contact(job)) = Job::from_message(&message) {
                let id = job.crm.id.parse().unwrap();
                self.accounts.borrow_mut().read.push(id);
            }
            let ack = run(handle_message(p, &config(), queue, &message));
            assert_eq!(ack, Ack::Done, "{message}");
        }
        let stopped = p.logs.borrow().iter().any(|l| l.contains("stopped"));
        assert!(!stopped, "a pass stopped: {:?}", p.logs.borrow());
        std::mem::take(&mut self.accounts.borrow_mut().read)
    }

    /// The phone numbers of Aircall's contact with this e-mail (a number from HubSpot comes
    /// first; the ones it had are kept).
    fn aircall_numbers(&self, email: &str) -> Vec<String> {
        let accounts = self.accounts.borrow();
        let with_email: Vec<&Value> = accounts
            .aircall
            .iter()
            .filter(|c| c["emails"][0]["value"] == email)
            .collect();
        assert_eq!(with_email.len(), 1, "{email}: {:?}", accounts.aircall);
        let numbers = with_email[0]["phone_numbers"].as_array().unwrap();
        numbers
            .iter()
            .map(|n| n["value"].as_str().unwrap().to_string())
            .collect()
    }

    fn answer(&self, request: &HttpRequest) -> HttpResponse {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let url = url::Url::parse(&request.url).unwrap();
        let path = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap(),
            url.path()
        );
        let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let mut accounts = self.accounts.borrow_mut();
        let now_ms = self.now_ms();
        let (status, answer) = match (request.method, path.strip_prefix(HUBSPOT)) {
            ("POST", Some("/search")) => {
                accounts.searches.push(body.clone());
                accounts.search(&body)
            }
            ("POST", Some("/batch/read")) => {
                let mut by_email = HashMap::new();
                for (id, (_, properties)) in accounts.hubspot.iter().rev() {
                    if let Some(email) = properties.get("email") {
                        by_email.insert(email.as_str(), (*id, properties)); // the first wins
                    }
                }
                let results: Vec<Value> = body["inputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|input| {
                        let (id, properties) = by_email.get(input["id"].as_str()?)?;
                        Some(hubspot_record(*id, 0, properties))
                    })
                    .collect();
                (200, json!({ "results": results }))
            }
            ("POST", Some("/batch/create")) => {
                let mut results = Vec::new();
                for input in body["inputs"].as_array().unwrap() {
                    let id = accounts.hubspot.keys().last().map_or(1001, |id| id + 1);
                    let properties: BTreeMap<String, String> =
                        serde_json::from_value(input["properties"].clone()).unwrap();
                    results.push(hubspot_record(id, now_ms, &properties));
                    accounts.hubspot.insert(id, (now_ms, properties));
                }
                (201, json!({ "results": results }))
            }
            ("POST", Some("/batch/update")) => {
                for input in body["inputs"].as_array().unwrap() {
                    let id: u64 = input["id"].as_str().unwrap().parse().unwrap();
                    let properties: BTreeMap<String, String> =
                        serde_json::from_value(input["properties"].clone()).unwrap();
                    let contact = accounts.hubspot.get_mut(&id).unwrap();
                    contact.0 = now_ms;
                    contact.1.extend(properties);
                    accounts.hubspot_updates += 1;
                }
                (200, json!({ "results": [] }))
            }
            _ => accounts.aircall(request.method, &path, &query, &body, now_ms / 1000),
        };
        answer_json(status, &answer)
    }
}

impl Accounts {
    /// HubSpot's search over the contacts, with its limits: 5 groups, 10 filters a group, 25
    /// in all, 100 values in an IN/NOT_IN (the connector's figure), 200 a page.
    fn search(&self, body: &Value) -> (u16, Value) {
        let groups = body["filterGroups"].as_array().cloned().unwrap_or_default();
        let filters = |g: &Value| g["filters"].as_array().cloned().unwrap_or_default();
        let sizes: Vec<usize> = groups.iter().map(|g| filters(g).len()).collect();
        let values = groups
            .iter()
            .flat_map(filters)
            .map(|f| f["values"].as_array().map_or(0, Vec::len))
            .max()
            .unwrap_or(0);
        let limit = body["limit"].as_u64().unwrap_or(10) as usize;
        if groups.len() > 5
            || sizes.iter().any(|n| *n > 10)
            || sizes.iter().sum::<usize>() > 25
            || values > 100
            || limit > 200
        {
            let message = "too many filter groups, filters or values";
            return (
                400,
                json!({"status": "error", "category": "VALIDATION_ERROR", "message": message}),
            );
        }
        let value = |id: u64, (modified, properties): &Contact, name: &str| match name {
            "hs_object_id" => Some(id.to_string()),
            "lastmodifieddate" => Some(modified.to_string()),
            _ => properties.get(name).cloned(),
        };
        // Each group's filters, with the text of their values for a quick lookup.
        let groups: Vec<Vec<(Value, HashSet<String>)>> = groups
            .iter()
            .map(|g| {
                let text = |f: &Value| {
                    let values = f["values"].as_array().cloned().unwrap_or_default();
                    values
                        .iter()
                        .filter_map(|v| Some(v.as_str()?.to_string()))
                        .collect()
                };
                filters(g)
                    .into_iter()
                    .map(|f| (f.clone(), text(&f)))
                    .collect()
            })
            .collect();
        let mut matching: Vec<(u64, &Contact)> = self
            .hubspot
            .iter()
            .map(|(id, c)| (*id, c))
            .filter(|(id, c)| {
                groups.is_empty()
                    || groups.iter().any(|g| {
                        g.iter().all(|(f, values)| {
                            let name = f["propertyName"].as_str().unwrap();
                            filter_matches(value(*id, c, name), f, values)
                        })
                    })
            })
            .collect();
        // One sort; equal values in no promised order: here, the newest id first.
        let sort = body["sorts"][0]["propertyName"]
            .as_str()
            .unwrap_or("hs_object_id");
        let descending = body["sorts"][0]["direction"] == "DESCENDING";
        matching.sort_by(|(a, ca), (b, cb)| {
            let order = compare(&value(*a, ca, sort), &value(*b, cb, sort));
            let order = if descending { order.reverse() } else { order };
            order.then(b.cmp(a))
        });
        let results: Vec<Value> = matching
            .iter()
            .take(limit)
            .map(|(id, (modified, properties))| hubspot_record(*id, *modified, properties))
            .collect();
        (200, json!({"total": matching.len(), "results": results}))
    }

    /// Aircall's contacts: listed (most recently updated first), searched, read, created,
    /// updated (the plain update ignores the lists), their numbers and e-mails added, updated
    /// and deleted one by one (`/phone_details`, `/email_details`).
    fn aircall(
        &mut self,
        method: &str,
        path: &str,
        query: &BTreeMap<String, String>,
        body: &Value,
        now: u64,
    ) -> (u16, Value) {
        let rest = path
            .strip_prefix(AIRCALL)
            .unwrap_or_else(|| panic!("{method} {path}"));
        match (method, rest) {
            ("GET", "") => {
                assert_eq!(query["order_by"], "updated_at");
                let per_page: usize = query["per_page"].parse().unwrap();
                let page: usize = query["page"].parse().unwrap();
                if page * per_page > RESULT_CAP {
                    self.refused += 1;
                    let troubleshoot = "Your query is limited to 10k results and pagination is \
                        out of bound, please use timestamps or other filters.";
                    return (
                        400,
                        json!({"error": "Bad Request", "troubleshoot": troubleshoot}),
                    );
                }
                // from/to filter created_at: from exclusive, to inclusive.
                let bound = |name: &str| query.get(name).map(|v| v.parse::<i64>().unwrap());
                let (from, to) = (bound("from"), bound("to"));
                let mut all: Vec<(i64, i64, &Value)> = self
                    .aircall
                    .iter()
                    .filter(|c| {
                        let created = c["created_at"].as_i64().unwrap();
                        from.is_none_or(|f| created > f) && to.is_none_or(|t| created <= t)
                    })
                    .map(|c| {
                        (
                            c["updated_at"].as_i64().unwrap(),
                            c["id"].as_i64().unwrap(),
                            c,
                        )
                    })
                    .collect();
                all.sort_unstable_by_key(|(updated, id, _)| std::cmp::Reverse((*updated, *id)));
                let total = all.len();
                let contacts: Vec<Value> = all
                    .into_iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|(_, _, c)| c.clone())
                    .collect();
                (
                    200,
                    json!({ "contacts": contacts, "meta": {"total": total} }),
                )
            }
            ("GET", "/search") => {
                let (field, wanted) = query.iter().next().unwrap();
                let field = if field == "email" {
                    "emails"
                } else {
                    "phone_numbers"
                };
                let found: Vec<&Value> = self
                    .aircall
                    .iter()
                    .filter(|c| {
                        c[field]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|v| v["value"] == **wanted)
                    })
                    .collect();
                (200, json!({ "contacts": found }))
            }
            ("POST", "") => {
                let mut contact = body.clone();
                contact["id"] = json!(self.aircall.len() + 1);
                contact["created_at"] = json!(now);
                contact["updated_at"] = json!(now);
                for list in ["phone_numbers", "emails"] {
                    let entries = body[list].as_array().cloned().unwrap_or_default();
                    contact[list] = json!([]);
                    for entry in entries {
                        self.add_detail(&mut contact, list, entry);
                    }
                }
                self.aircall.push(contact.clone());
                self.webhooks.push(contact.clone());
                (201, json!({ "contact": contact }))
            }
            (method, rest) => {
                let mut parts = rest.trim_start_matches('/').split('/');
                let id: usize = parts.next().unwrap().parse().unwrap();
                let list = parts.next().map(|name| match name {
                    "phone_details" => "phone_numbers",
                    "email_details" => "emails",
                    other => panic!("{method} {other}"),
                });
                let detail: Option<u64> = parts.next().map(|d| d.parse().unwrap());
                let mut contact = self.aircall[id - 1].clone();
                match (method, list) {
                    ("GET", None) => {}
                    // The plain update changes the scalar fields; Aircall ignores the lists.
                    ("POST", None) => {
                        for (field, value) in body.as_object().unwrap() {
                            if field != "phone_numbers" && field != "emails" {
                                contact[field] = value.clone();
                            }
                        }
                    }
                    ("POST", Some(list)) => self.add_detail(&mut contact, list, body.clone()),
                    (method, Some(list)) => {
                        let entries = contact[list].as_array_mut().unwrap();
                        let at = entries
                            .iter()
                            .position(|e| e["id"].as_u64() == detail)
                            .expect("a detail of this contact");
                        match method {
                            "PUT" => {
                                entries[at] = json!({"id": detail, "label": body["label"],
                                    "value": body["value"]});
                            }
                            "DELETE" => {
                                entries.remove(at);
                            }
                            _ => panic!("{method} {path}"),
                        }
                    }
                    _ => panic!("{method} {path}"),
                }
                if method != "GET" {
                    contact["updated_at"] = json!(now);
                    self.webhooks.push(contact.clone());
                }
                self.aircall[id - 1] = contact.clone();
                (200, json!({ "contact": contact }))
            }
        }
    }

    /// Adds a phone number or e-mail `{label, value}` at the end of a contact's list, with an
    /// id of its own, as Aircall does.
    fn add_detail(&mut self, contact: &mut Value, list: &str, entry: Value) {
        self.next_detail_id += 1;
        let entry = json!({"id": self.next_detail_id, "label": entry["label"],
            "value": entry["value"]});
        contact[list].as_array_mut().unwrap().push(entry);
    }
}

/// A contact as HubSpot answers it: its properties, `lastmodifieddate` as ISO-8601 with ms.
fn hubspot_record(id: u64, modified_ms: u64, properties: &BTreeMap<String, String>) -> Value {
    let seconds = crate::time::rfc3339((modified_ms / 1000) as i64);
    let modified = format!("{}.{:03}Z", &seconds[..19], modified_ms % 1000);
    let mut shown = json!(properties);
    shown["lastmodifieddate"] = json!(modified);
    shown["hs_object_id"] = json!(id.to_string());
    json!({ "id": id.to_string(), "properties": shown })
}

/// Numbers (ms, ids) compare as numbers, other values as text.
fn compare(a: &Option<String>, b: &Option<String>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        },
        _ => a.is_some().cmp(&b.is_some()),
    }
}

/// Whether a property's value passes a filter; `values` is the text of the filter's values.
fn filter_matches(value: Option<String>, filter: &Value, values: &HashSet<String>) -> bool {
    use std::cmp::Ordering::*;
    let given = filter["value"].as_str().map(str::to_string);
    let listed = || {
        // Text equals text; only numbers need comparing one by one (`007` is `7`).
        let text = value.as_ref().filter(|v| v.parse::<u64>().is_err());
        if let Some(text) = text {
            return values.contains(text);
        }
        let values = filter["values"]
            .as_array()
            .expect("IN and NOT_IN take values");
        values
            .iter()
            .any(|v| compare(&value, &v.as_str().map(str::to_string)) == Equal)
    };
    let order = compare(&value, &given);
    match filter["operator"].as_str().unwrap() {
        "EQ" => value.is_some() && order == Equal,
        "GT" => value.is_some() && order == Greater,
        "GTE" => value.is_some() && order != Less,
        "LT" => value.is_some() && order == Less,
        "LTE" => value.is_some() && order != Greater,
        "IN" => value.is_some() && listed(),
        "NOT_IN" => value.is_none() || !listed(),
        other => panic!("operator {other} is not faked here"),
    }
}

fn answer_json(status: u16, body: &Value) -> HttpResponse {
    answer(status, &[], &body.to_string())
}

#[test]
fn a_contact_edited_after_the_pass_that_read_it_reaches_aircall_at_the_next_pass() {
    let (fake, id) = Fake::new("to_aircall");
    let t = fake.now_ms() - 60_000;
    fake.hubspot_edit(
        501,
        t,
        &[("email", "yann@client.test"), ("phone", "+33611111111")],
    );
    fake.hubspot_edit(
        502,
        t + 7,
        &[("email", "zoe@client.test"), ("phone", "+33622222222")],
    );
    assert_eq!(fake.sync_now(&id), vec![501, 502]);
    assert_eq!(
        fake.aircall_numbers("zoe@client.test"),
        vec!["+33622222222"]
    );

    // Zoé, whom the pass ended on, gets a new number in HubSpot.
    fake.hubspot_edit(502, fake.now_ms(), &[("phone", "+33633333333")]);
    assert_eq!(fake.sync_now(&id), vec![502]);
    assert_eq!(fake.aircall_numbers("zoe@client.test")[0], "+33633333333");
    assert_eq!(
        fake.aircall_numbers("yann@client.test"),
        vec!["+33611111111"]
    );
    assert_eq!(
        fake.sync_now(&id),
        Vec::<u64>::new(),
        "nothing changed since"
    );
}

#[test]
fn an_edit_followed_by_another_contact_s_edit_is_not_lost() {
    let (fake, id) = Fake::new("to_aircall");
    let t = fake.now_ms() - 60_000;
    fake.hubspot_edit(
        501,
        t,
        &[("email", "yann@client.test"), ("phone", "+33611111111")],
    );
    fake.hubspot_edit(
        502,
        t + 7,
        &[("email", "zoe@client.test"), ("phone", "+33622222222")],
    );
    fake.sync_now(&id);

    // Zoé (where the pass ended) changes, then Yann, before the next pass.
    fake.hubspot_edit(502, fake.now_ms(), &[("phone", "+33633333333")]);
    fake.hubspot_edit(501, fake.now_ms() + 5, &[("phone", "+33644444444")]);
    fake.p.now_ms.set(fake.now_ms() + 10);
    assert_eq!(fake.sync_now(&id), vec![502, 501]);
    assert_eq!(fake.aircall_numbers("zoe@client.test")[0], "+33633333333");
    assert_eq!(fake.aircall_numbers("yann@client.test")[0], "+33644444444");
    assert_eq!(fake.sync_now(&id), Vec::<u64>::new());
}

#[test]
fn nothing_is_read_twice_without_a_change_even_when_contacts_share_a_millisecond() {
    let (fake, id) = Fake::new("to_aircall");
    let t = fake.now_ms() - 60_000;
    // Three contacts changed in one millisecond, as a bulk edit stamps them; the pass ends
    // on that millisecond.
    for (n, hubspot_id) in [(1, 601), (2, 602), (3, 603)] {
        let email = format!("same{n}@client.test");
        let phone = format!("+3367000000{n}");
        fake.hubspot_edit(hubspot_id, t, &[("email", &email), ("phone", &phone)]);
    }
    fake.hubspot_edit(
        600,
        t - 3,
        &[("email", "early@client.test"), ("phone", "+33670000000")],
    );
    let mut read = fake.sync_now(&id);
    read.sort();
    assert_eq!(read, vec![600, 601, 602, 603]);
    for _ in 0..3 {
        assert_eq!(fake.sync_now(&id), Vec::<u64>::new());
    }
    // One of them changes: it alone is read again.
    fake.hubspot_edit(602, fake.now_ms(), &[("phone", "+33679999999")]);
    assert_eq!(fake.sync_now(&id), vec![602]);
    assert_eq!(fake.aircall_numbers("same2@client.test")[0], "+33679999999");
    assert_eq!(fake.sync_now(&id), Vec::<u64>::new());
}

#[test]
fn more_contacts_in_one_millisecond_than_a_not_in_holds_are_each_read_once() {
    let (fake, id) = Fake::new("to_aircall");
    let t = fake.now_ms() - 600_000;
    // A bulk import: 250 contacts stamped alike, then three more (no phone: nothing to write
    // in Aircall, each is only read).
    for n in 0..250 {
        fake.hubspot_edit(2_000 + n, t, &[("firstname", "Bulk")]);
    }
    for n in 0..3 {
        fake.hubspot_edit(3_000 + n, t + 1 + n, &[("firstname", "Later")]);
    }
    let mut read = fake.sync_now(&id);
    let searches = fake.accounts.borrow().searches.len();
    read.sort();
    let expected: Vec<u64> = (2_000..2_250).chain(3_000..3_003).collect();
    assert_eq!(read, expected, "each once, none left out");
    // 100 + 100 in modification order, then the last 50 by id (a page short of full ends
    // that millisecond), then the three after it; every search within HubSpot's limits, or
    // the fake's 400 would have stopped the pass.
    assert_eq!(searches, 4);
    assert_eq!(fake.sync_now(&id), Vec::<u64>::new());

    // An edit of one of them is read again, and only it.
    fake.hubspot_edit(2_100, fake.now_ms(), &[("firstname", "Edited")]);
    assert_eq!(fake.sync_now(&id), vec![2_100]);
}

#[test]
fn an_aircall_contact_changed_in_the_second_a_pass_ended_on_reaches_hubspot() {
    let (fake, id) = Fake::new("to_hubspot");
    let second = (fake.now_ms() / 1000) as i64 - 30;
    let contact = |id: i64, email: &str, phone: &str| {
        json!({"id": id, "first_name": "A", "created_at": second, "updated_at": second,
            "emails": [{"label": "work", "value": email}],
            "phone_numbers": [{"label": "work", "value": phone}]})
    };
    fake.accounts
        .borrow_mut()
        .aircall
        .push(contact(1, "ana@client.test", "+33655555551"));
    fake.sync_now(&id);
    let in_hubspot = |email: &str| {
        let accounts = fake.accounts.borrow();
        let found = accounts.hubspot.values().filter(|c| c.1["email"] == email);
        found.map(|c| c.1["phone"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(in_hubspot("ana@client.test"), vec!["+33655555551"]);

    // Another contact changed later in that same second (its webhook lost): the next pass
    // reads that second again.
    fake.accounts
        .borrow_mut()
        .aircall
        .push(contact(2, "ben@client.test", "+33655555552"));
    fake.sync_now(&id);
    assert_eq!(in_hubspot("ben@client.test"), vec!["+33655555552"]);
    let requests = fake.p.requests.borrow().len();
    fake.sync_now(&id);
    let hubspot_requests = fake.p.requests.borrow()[requests..]
        .iter()
        .filter(|r| r.url.starts_with("https://api.hubapi.com"))
        .count();
    assert_eq!(
        hubspot_requests, 0,
        "read again, both unchanged: nothing sent"
    );
}

#[test]
fn a_first_pass_over_12_000_aircall_contacts_completes_past_the_result_cap() {
    let (fake, id) = Fake::new("to_hubspot");
    let now = (fake.now_ms() / 1000) as i64;
    // Created over two years, more than Aircall pages through in one list.
    let contacts: Vec<Value> = (0..12_000)
        .map(|n| {
            let created = now - 2 * 365 * 86_400 + n * 5_000;
            json!({"id": n + 1, "first_name": "C", "created_at": created,
                "updated_at": created + 60,
                "emails": [{"id": n + 1, "label": "work", "value": format!("c{n}@client.test")}],
                "phone_numbers": [{"id": n + 1, "label": "work",
                    "value": format!("+3361{n:07}")}]})
        })
        .collect();
    fake.accounts.borrow_mut().aircall = contacts;
    fake.sync_now(&id);
    let accounts = fake.accounts.borrow();
    assert_eq!(accounts.refused, 0, "no page past the cap was asked for");
    let emails: std::collections::BTreeSet<&String> = accounts
        .hubspot
        .values()
        .filter_map(|c| c.1.get("email"))
        .collect();
    assert_eq!(
        (accounts.hubspot.len(), emails.len()),
        (12_000, 12_000),
        "every contact in HubSpot, once"
    );
    drop(accounts);

    // The pass finished, so the next one starts from its mark: one page, nothing sent.
    let requests = fake.p.requests.borrow().len();
    fake.sync_now(&id);
    let asked: Vec<String> = fake.p.requests.borrow()[requests..]
        .iter()
        .map(|r| r.url.clone())
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].starts_with(AIRCALL), "{asked:?}");
}

#[test]
fn the_webhooks_of_a_write_in_several_requests_do_not_undo_the_crm_s_edit() {
    let (fake, id) = Fake::new("both");
    let t = fake.now_ms() - 60_000;
    let ann = [("email", "ann@client.test"), ("firstname", "Ann")];
    fake.hubspot_edit(501, t, &[ann[0], ann[1], ("phone", "+33611111111")]);
    fake.sync_now(&id);
    assert_eq!(
        fake.aircall_numbers("ann@client.test"),
        vec!["+33611111111"]
    );

    // A new number and a new name in HubSpot: three requests to Aircall (the old number added
    // back, its place replaced, the name updated), each followed by Aircall's webhook.
    fake.hubspot_edit(
        501,
        fake.now_ms(),
        &[("phone", "+33622222222"), ("firstname", "Anna")],
    );
    fake.accounts.borrow_mut().webhooks.clear();
    fake.sync_now(&id);
    assert_eq!(
        fake.aircall_numbers("ann@client.test"),
        vec!["+33622222222", "+33611111111"]
    );
    let sent = std::mem::take(&mut fake.accounts.borrow_mut().webhooks);
    assert_eq!(sent.len(), 3, "{sent:?}");

    // Those webhooks arrive (late, in any order): none is sent back to HubSpot.
    let p = &*fake.p;
    let integration = run(crate::integration::Integrations::new(p).get(&id))
        .unwrap()
        .unwrap();
    let deliver = |contact: &Value| {
        let data = contact.as_object().unwrap();
        run(super::on_contact_event(
            p,
            &config(),
            &integration,
            "contact.updated",
            data,
        ))
        .unwrap()
    };
    for contact in sent.iter().rev() {
        deliver(contact);
    }
    assert_eq!(fake.accounts.borrow().hubspot_updates, 0);
    let hubspot = fake.accounts.borrow().hubspot[&501].1.clone();
    assert_eq!(
        (hubspot["phone"].as_str(), hubspot["firstname"].as_str()),
        ("+33622222222", "Anna")
    );

    // A change made in Aircall afterwards does reach HubSpot.
    let mut edited = sent[2].clone();
    edited["first_name"] = json!("Annie");
    deliver(&edited);
    assert_eq!(fake.accounts.borrow().hubspot_updates, 1);
    assert_eq!(fake.accounts.borrow().hubspot[&501].1["firstname"], "Annie");
}

/// The Aircall requests made since `from`, by kind: list, search, read, create, other writes.
fn aircall_requests(fake: &Fake, from: usize) -> BTreeMap<&'static str, usize> {
    let mut kinds = BTreeMap::new();
    for request in &fake.p.requests.borrow()[from..] {
        let Some(rest) = request.url.strip_prefix(AIRCALL) else {
            continue;
        };
        let kind = match (request.method, rest) {
            ("GET", r) if r.starts_with('?') => "list",
            ("GET", r) if r.starts_with("/search") => "search",
            ("GET", _) => "read",
            ("POST", "") => "create",
            _ => "write",
        };
        *kinds.entry(kind).or_insert(0) += 1;
    }
    kinds
}

#[test]
fn new_crm_contacts_cost_one_aircall_request_each_and_known_ones_are_matched_without_a_search() {
    let (fake, id) = Fake::new("to_aircall");
    let second = (fake.now_ms() / 1000) as i64 - 3_600;
    // Aircall holds 120 contacts: the index costs 3 pages.
    let known: Vec<Value> = (1..=120)
        .map(|n| {
            json!({"id": n, "first_name": "Old", "created_at": second + n, "updated_at": second + n,
                "emails": [{"id": n, "label": "work", "value": format!("old{n}@client.test")}],
                "phone_numbers": [{"id": 1_000 + n, "label": "work",
                    "value": format!("+3362{n:07}")}]})
        })
        .collect();
    fake.accounts.borrow_mut().aircall = known;
    fake.accounts.borrow_mut().next_detail_id = 10_000;
    let t = fake.now_ms() - 60_000;
    for n in 0..100 {
        let (email, phone) = (format!("new{n}@client.test"), format!("+3363{n:07}"));
        fake.hubspot_edit(1_000 + n, t + n, &[("email", &email), ("phone", &phone)]);
    }
    // One Aircall knows by its e-mail, one by its number only (written as people type it).
    fake.hubspot_edit(
        2_000,
        t + 200,
        &[("email", "old7@client.test"), ("firstname", "Known")],
    );
    fake.hubspot_edit(
        2_001,
        t + 201,
        &[("phone", "+33 6 20 00 00 09"), ("firstname", "Number")],
    );

    let from = fake.p.requests.borrow().len();
    fake.sync_now(&id);
    let asked = aircall_requests(&fake, from);
    let expected = [("create", 100), ("list", 3), ("read", 2), ("write", 2)];
    assert_eq!(asked, BTreeMap::from(expected), "no search");
    let per_new_contact = (asked["create"] + asked["list"]) as f64 / 100.0;
    assert!(per_new_contact <= 1.1, "{per_new_contact}");
    let accounts = fake.accounts.borrow();
    assert_eq!(accounts.aircall.len(), 220, "no duplicate");
    assert_eq!(accounts.aircall[6]["first_name"], "Known");
    assert_eq!(accounts.aircall[8]["first_name"], "Number");
    drop(accounts);

    // An index entry gone stale (the e-mail changed in Aircall, its webhook lost) matches
    // nothing: the contact read says otherwise, and a new one is created.
    fake.accounts.borrow_mut().aircall[11]["emails"][0]["value"] = json!("moved@client.test");
    fake.hubspot_edit(
        2_002,
        fake.now_ms(),
        &[("email", "old12@client.test"), ("phone", "+33640000000")],
    );
    let from = fake.p.requests.borrow().len();
    fake.sync_now(&id);
    let asked = aircall_requests(&fake, from);
    assert_eq!(asked.get("create"), Some(&1), "{asked:?}");
    assert_eq!(
        fake.aircall_numbers("old12@client.test"),
        vec!["+33640000000"]
    );
    assert_eq!(
        fake.accounts.borrow().aircall[11]["emails"][0]["value"],
        "moved@client.test"
    );
}

#[test]
fn contact_webhooks_keep_the_index_current() {
    let (fake, id) = Fake::new("to_aircall");
    fake.sync_now(&id); // an empty account: the index is ready after one page
    let p = &*fake.p;
    let integration = run(crate::integration::Integrations::new(p).get(&id))
        .unwrap()
        .unwrap();
    let event = |name: &str, contact: &Value| {
        let data = contact.as_object().unwrap();
        run(super::on_contact_event(
            p,
            &config(),
            &integration,
            name,
            data,
        ))
        .unwrap();
    };
    let second = (fake.now_ms() / 1000) as i64;
    let contact = |id: i64, email: &str| {
        json!({"id": id, "first_name": "A", "created_at": second, "updated_at": second,
            "emails": [{"id": id, "label": "work", "value": email}],
            "phone_numbers": [{"id": 100 + id, "label": "work", "value": format!("+3365000000{id}")}]})
    };
    // Created in Aircall: its webhook indexes it, and HubSpot's contact finds it.
    let ana = contact(1, "ana@client.test");
    fake.accounts.borrow_mut().aircall.push(ana.clone());
    event("contact.created", &ana);
    fake.hubspot_edit(
        501,
        fake.now_ms(),
        &[("email", "ana@client.test"), ("firstname", "Ana")],
    );
    let from = p.requests.borrow().len();
    fake.sync_now(&id);
    let asked = aircall_requests(&fake, from);
    assert_eq!(asked.get("create"), None, "{asked:?}");
    assert_eq!(fake.accounts.borrow().aircall[0]["first_name"], "Ana");

    // Deleted in Aircall: its webhook forgets it; no read is spent on it.
    let ben = contact(2, "ben@client.test");
    fake.accounts.borrow_mut().aircall.push(ben.clone());
    event("contact.created", &ben);
    event("contact.deleted", &ben);
    fake.accounts.borrow_mut().aircall[1]["emails"] = json!([]); // gone, as far as matching goes
    fake.hubspot_edit(
        502,
        fake.now_ms(),
        &[("email", "ben@client.test"), ("phone", "+33650000009")],
    );
    let from = p.requests.borrow().len();
    fake.sync_now(&id);
    let asked = aircall_requests(&fake, from);
    assert_eq!(
        (asked.get("read"), asked.get("create")),
        (None, Some(&1)),
        "{asked:?}"
    );
}
