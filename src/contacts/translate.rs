//! A contact translated from one app to the other along the mappings in force, and the
//! fingerprint that lets the connector recognise its own writes when they come back.
//!
//! Neither direction ever clears a field: an empty value on one side leaves the other side's
//! value alone (a contact matched by phone must not lose its e-mail because the other app has
//! none). Going to Aircall, e-mails and phone numbers are merged into the current lists: a value
//! already there (same e-mail ignoring case, same number once normalised) is kept as it is, and
//! a new one is put where the way back reads it (the first e-mail; the first number with the
//! field's label), the old one kept after it: the sync cannot tell a value it wrote earlier
//! from one typed in Aircall, and losing a number is worse than keeping an old one.

use super::fields::{self, Kind};
use super::filters::aircall_values;
use super::mapping::{Direction, Mapping};
use super::model::{AircallContact, CrmProperties, Labeled};
use super::names;
use super::phone;
use super::settings::ContactSync;
use std::collections::BTreeMap;

/// What to write to Aircall: the current contact with the HubSpot values merged in (no id),
/// and the values that could not be written, each said in words.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToAircall {
    pub contact: AircallContact,
    pub problems: Vec<String>,
}

/// The mappings that carry values towards one side, given the sync's overall direction.
fn towards(sync: &ContactSync, hubspot: bool) -> impl Iterator<Item = Mapping> {
    let allowed = move |d: Direction| {
        if hubspot {
            d.to_crm()
        } else {
            d.to_aircall()
        }
    };
    let overall = allowed(sync.direction);
    sync.mappings()
        .into_iter()
        .filter(move |m| overall && allowed(m.direction))
}

/// Whether an Aircall label ties a number to a HubSpot phone field.
fn label_matches(label: &str, hubspot: &str) -> bool {
    let label = label.to_lowercase();
    fields::phone_label(hubspot)
        .1
        .iter()
        .any(|w| label.contains(w))
}

/// The Aircall number that goes to a HubSpot phone field: the first labelled for it, else, for
/// the catch-all `phone`, the first whose label names no other HubSpot phone field.
fn pick_phone(numbers: &[Labeled], hubspot: &str) -> Option<usize> {
    let usable = |n: &Labeled| !n.value.trim().is_empty();
    if let Some(i) = numbers
        .iter()
        .position(|n| usable(n) && label_matches(&n.label, hubspot))
    {
        return Some(i);
    }
    if hubspot != "phone" {
        return None;
    }
    let others = ["mobilephone", "fax", "hs_whatsapp_phone_number"];
    numbers
        .iter()
        .position(|n| usable(n) && !others.iter().any(|o| label_matches(&n.label, o)))
}

/// The value an Aircall contact gives a mapping's HubSpot field, if any.
fn aircall_value(c: &AircallContact, m: &Mapping) -> Option<String> {
    match m.aircall.as_str() {
        "phone_numbers" => pick_phone(&c.phone_numbers, &m.crm)
            .map(|i| c.phone_numbers[i].value.trim().to_string()),
        field => aircall_values(c, field).into_iter().next(),
    }
}

/// HubSpot properties carrying an Aircall contact, along the mappings going to HubSpot.
pub fn to_crm(c: &AircallContact, sync: &ContactSync) -> CrmProperties {
    towards(sync, true)
        .filter_map(|m| Some((m.crm.clone(), aircall_value(c, &m)?)))
        .collect()
}

/// The Aircall contact to write for HubSpot properties, merged into the current contact.
pub fn to_aircall(
    p: &CrmProperties,
    current: Option<&AircallContact>,
    sync: &ContactSync,
) -> ToAircall {
    let mut contact = current.cloned().unwrap_or_default();
    contact.id = None;
    let mut problems = Vec::new();
    for m in towards(sync, false) {
        let Some(value) = p.get(&m.crm).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
            continue;
        };
        match m.aircall.as_str() {
            "full_name" => {
                let first = contact.first_name.as_deref().unwrap_or("");
                let last = contact.last_name.as_deref().unwrap_or("");
                if let Some((first, last)) = names::update_from_full(first, last, value) {
                    contact.first_name = Some(first);
                    contact.last_name = Some(last);
                }
            }
            "emails" => merge_email(&mut contact.emails, value),
            "phone_numbers" => match phone::to_e164(value, &sync.phone) {
                Ok(number) => merge_phone(&mut contact.phone_numbers, &m.crm, &number, sync),
                Err(e) => problems.push(format!("{} {e}", m.crm)),
            },
            field => {
                let slot = match field {
                    "first_name" => &mut contact.first_name,
                    "last_name" => &mut contact.last_name,
                    "company_name" => &mut contact.company_name,
                    "description" => &mut contact.description,
                    "information" => &mut contact.information,
                    // Settings are checked when saved; one stored otherwise (by hand, or by a
                    // later version) is reported, not a crash.
                    other => {
                        problems.push(format!("{} maps to {other}, not an Aircall field", m.crm));
                        continue;
                    }
                };
                // Whitespace differences are no change: no churn on every pass.
                if names::squeeze(slot.as_deref().unwrap_or("")) != names::squeeze(value) {
                    *slot = Some(value.to_string());
                }
            }
        }
    }
    ToAircall { contact, problems }
}

/// An e-mail made the first (the one that goes back to HubSpot), without duplicates.
fn merge_email(emails: &mut Vec<Labeled>, value: &str) {
    let same = |e: &Labeled| e.value.trim().eq_ignore_ascii_case(value);
    match emails.iter().position(same) {
        Some(0) => {}
        Some(i) => {
            let existing = emails.remove(i);
            emails.insert(0, existing);
        }
        None => emails.insert(0, Labeled::new("Work", value)),
    }
}

/// A number from a HubSpot phone field, without duplicates: one already there (normalised
/// equality) is left as it is; a new one goes before the number the field picks today.
fn merge_phone(numbers: &mut Vec<Labeled>, hubspot: &str, number: &str, sync: &ContactSync) {
    if numbers
        .iter()
        .any(|n| phone::same_number(&n.value, number, &sync.phone))
    {
        return;
    }
    let label = fields::phone_label(hubspot).0;
    let at = pick_phone(numbers, hubspot).unwrap_or(numbers.len());
    numbers.insert(at, Labeled::new(label, number));
}

/// A value as the fingerprint sees it, by the kind of the HubSpot field it lands in.
fn canonical(value: &str, hubspot: &str, sync: &ContactSync) -> String {
    match fields::hubspot(hubspot).map(|f| f.kind) {
        Some(Kind::Email) => value.trim().to_lowercase(),
        Some(Kind::Phone) => phone::canonical(value, &sync.phone),
        _ => names::squeeze(value),
    }
}

/// Hash of (mapping -> canonical value); unset values left out.
fn fingerprint(
    values: impl Iterator<Item = (Mapping, Option<String>)>,
    sync: &ContactSync,
) -> String {
    let entries: BTreeMap<String, String> = values
        .filter_map(|(m, v)| {
            let v = canonical(&v?, &m.crm, sync);
            (!v.is_empty()).then(|| (format!("{}>{}", m.aircall, m.crm), v))
        })
        .collect();
    let text = serde_json::to_string(&entries).expect("a map of strings serialises");
    crate::crypto::sha256_hex(text.as_bytes())
}

/// Fingerprint of what the mappings carry of an Aircall contact.
///
/// Every mapping in force counts, whatever its direction, each seen as the HubSpot field it
/// maps to: then a change on either side shows, even in a field that flows only one way, and a
/// contact and the HubSpot properties in step with it have the same fingerprint. Key and list
/// order, phone formatting, e-mail case and whitespace make no difference.
pub fn fingerprint_aircall(c: &AircallContact, sync: &ContactSync) -> String {
    let values = sync.mappings().into_iter().map(|m| {
        let v = aircall_value(c, &m);
        (m, v)
    });
    fingerprint(values, sync)
}

/// Fingerprint of what the mappings carry of HubSpot properties (see `fingerprint_aircall`).
pub fn fingerprint_crm(p: &CrmProperties, sync: &ContactSync) -> String {
    let values = sync.mappings().into_iter().map(|m| {
        let v = p.get(&m.crm).cloned();
        (m, v)
    });
    fingerprint(values, sync)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sync(value: serde_json::Value) -> ContactSync {
        ContactSync::parse(&value).unwrap()
    }

    fn both() -> ContactSync {
        sync(json!({"direction": "both"}))
    }

    fn props(pairs: &[(&str, &str)]) -> CrmProperties {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn text(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    fn jean() -> AircallContact {
        AircallContact {
            id: Some(321),
            first_name: text("Jean"),
            last_name: text("Dupont"),
            company_name: text("ACME"),
            description: text("Met at the fair"),
            information: None,
            phone_numbers: vec![
                Labeled::new("Home", "+33 1 42 68 53 00"),
                Labeled::new("Mobile", "+33612345678"),
                Labeled::new("Work", "+14155552671"),
            ],
            emails: vec![
                Labeled::new("", "Jean.Dupont@ACME.com"),
                Labeled::new("", "jean@gmail.com"),
            ],
        }
    }

    fn contacts() -> Vec<AircallContact> {
        vec![
            jean(),
            AircallContact::default(),
            AircallContact {
                first_name: text("山田"),
                last_name: text("太郎"),
                phone_numbers: vec![Labeled::new("", "+81 90 1234 5678")],
                ..Default::default()
            },
            AircallContact {
                first_name: text("  María José "),
                company_name: text("Telefónica  S.A."),
                phone_numbers: vec![Labeled::new("cell", "+34612345678")],
                emails: vec![Labeled::new("work", "MJ@telefonica.es")],
                ..Default::default()
            },
        ]
    }

    #[test]
    fn carries_the_default_fields_to_hubspot() {
        assert_eq!(
            to_crm(&jean(), &both()),
            props(&[
                ("firstname", "Jean"),
                ("lastname", "Dupont"),
                ("company", "ACME"),
                ("message", "Met at the fair"),
                ("email", "Jean.Dupont@ACME.com"),
                ("phone", "+14155552671"),
                ("mobilephone", "+33612345678"),
            ])
        );
    }

    #[test]
    fn the_catch_all_phone_takes_a_number_no_other_field_claims() {
        let c = AircallContact {
            phone_numbers: vec![
                Labeled::new("Mobile", "+33612345678"),
                Labeled::new("Home", "+33142685300"),
            ],
            ..Default::default()
        };
        let p = to_crm(&c, &both());
        assert_eq!(p["phone"], "+33142685300");
        assert_eq!(p["mobilephone"], "+33612345678");
    }

    #[test]
    fn follows_the_direction_of_each_mapping_and_of_the_sync() {
        let s = sync(json!({"direction": "both", "mappings": [
            {"aircall": "full_name", "hubspot": "jobtitle", "direction": "to_hubspot"},
            {"aircall": "information", "hubspot": "lifecyclestage", "direction": "to_aircall"}
        ]}));
        let mut c = jean();
        c.information = text("customer");
        let p = to_crm(&c, &s);
        assert_eq!(p["jobtitle"], "Jean Dupont");
        assert!(!p.contains_key("lifecyclestage"));
        let back = to_aircall(
            &props(&[("lifecyclestage", "lead"), ("jobtitle", "CEO")]),
            None,
            &s,
        );
        assert_eq!(back.contact.information, text("lead"));
        assert_eq!(back.contact.first_name, None);
        // A sync going one way translates nothing the other way.
        let one_way = sync(json!({"direction": "to_aircall"}));
        assert!(to_crm(&jean(), &one_way).is_empty());
        let other_way = sync(json!({"direction": "to_hubspot"}));
        let nothing = to_aircall(&props(&[("firstname", "Ann")]), None, &other_way);
        assert_eq!(nothing.contact, AircallContact::default());
    }

    #[test]
    fn a_new_hubspot_contact_becomes_an_aircall_contact_in_e164() {
        let s = sync(json!({"direction": "both", "phone": {"default_country": "FR"}}));
        let p = props(&[
            ("firstname", "Marie"),
            ("lastname", "Curie"),
            ("email", "marie@curie.fr"),
            ("phone", "01 42 68 53 00"),
            ("mobilephone", "06 12 34 56 78"),
            ("lifecyclestage", "customer"),
            ("company", ""),
        ]);
        let out = to_aircall(&p, None, &s);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!(
            out.contact,
            AircallContact {
                first_name: text("Marie"),
                last_name: text("Curie"),
                emails: vec![Labeled::new("Work", "marie@curie.fr")],
                phone_numbers: vec![
                    Labeled::new("Work", "+33142685300"),
                    Labeled::new("Mobile", "+33612345678"),
                ],
                ..Default::default()
            }
        );
    }

    #[test]
    fn merges_without_duplicates_and_keeps_aircall_values() {
        let p = props(&[
            ("firstname", "Jean"),
            ("lastname", "Dupont "),
            ("email", "jean@gmail.com"), // already there, second: moved first
            ("phone", "(415) 555-2671"), // already there as +14155552671
            ("mobilephone", "+33 6 99 88 77 66"), // new: goes before the old mobile
            ("company", "ACME Europe"),
        ]);
        let current = jean();
        let out = to_aircall(&p, Some(&current), &both());
        assert!(out.problems.is_empty());
        let c = &out.contact;
        assert_eq!(c.id, None);
        assert_eq!(
            c.last_name,
            text("Dupont"),
            "whitespace alone changes nothing"
        );
        assert_eq!(c.company_name, text("ACME Europe"));
        assert_eq!(c.description, current.description);
        assert_eq!(
            c.emails,
            vec![
                Labeled::new("", "jean@gmail.com"),
                Labeled::new("", "Jean.Dupont@ACME.com")
            ]
        );
        assert_eq!(
            c.phone_numbers,
            vec![
                Labeled::new("Home", "+33 1 42 68 53 00"),
                Labeled::new("Mobile", "+33699887766"),
                Labeled::new("Mobile", "+33612345678"),
                Labeled::new("Work", "+14155552671"),
            ]
        );
        // The next pass with the same properties changes nothing more.
        let again = to_aircall(&p, Some(c), &both());
        assert_eq!(&again.contact, c);
        // E-mail case is no difference either.
        let shouting = props(&[("email", "JEAN.DUPONT@acme.COM")]);
        assert_eq!(
            to_aircall(&shouting, Some(&current), &both())
                .contact
                .emails,
            current.emails
        );
    }

    #[test]
    fn reports_a_number_it_cannot_normalise_and_leaves_it_out() {
        let p = props(&[
            ("phone", "12"),
            ("mobilephone", "call me"),
            ("firstname", "Ann"),
        ]);
        let out = to_aircall(&p, None, &both());
        assert_eq!(
            out.problems,
            [
                "phone \"12\" is not a valid number for US: too short",
                "mobilephone \"call me\" is not a valid number for US: it contains letters",
            ]
        );
        assert!(out.contact.phone_numbers.is_empty());
        assert_eq!(out.contact.first_name, text("Ann"));
    }

    #[test]
    fn a_full_name_field_is_split_without_churn() {
        let s = sync(json!({"direction": "both", "mappings": [
            {"aircall": "full_name", "hubspot": "jobtitle", "direction": "both"},
            {"aircall": "first_name", "hubspot": "firstname", "direction": "to_hubspot"},
            {"aircall": "last_name", "hubspot": "lastname", "direction": "to_hubspot"}
        ]}));
        let current = AircallContact {
            first_name: text("Jean Claude"),
            last_name: text("Van Damme"),
            ..Default::default()
        };
        let same = to_aircall(
            &props(&[("jobtitle", "Jean  Claude Van Damme")]),
            Some(&current),
            &s,
        );
        assert_eq!(same.contact.first_name, text("Jean Claude"));
        assert_eq!(same.contact.last_name, text("Van Damme"));
        let changed = to_aircall(&props(&[("jobtitle", "JC Van Damme")]), Some(&current), &s);
        assert_eq!(changed.contact.first_name, text("JC"));
        assert_eq!(changed.contact.last_name, text("Van Damme"));
        let new = to_aircall(&props(&[("jobtitle", "Jean Claude Van Damme")]), None, &s);
        assert_eq!(new.contact.first_name, text("Jean"));
        assert_eq!(new.contact.last_name, text("Claude Van Damme"));
    }

    #[test]
    fn a_contact_and_its_translation_have_the_same_fingerprint() {
        let settings = [
            both(),
            sync(json!({"direction": "both", "phone": {"normalize": false}})),
            sync(json!({"direction": "both", "mappings": [
                {"aircall": "information", "hubspot": "jobtitle", "direction": "both"},
                {"aircall": "phone_numbers", "hubspot": "fax", "direction": "both"}
            ]})),
        ];
        for s in &settings {
            for c in contacts() {
                let p = to_crm(&c, s);
                assert_eq!(fingerprint_crm(&p, s), fingerprint_aircall(&c, s), "{c:?}");
                let back = to_aircall(&p, None, s);
                assert_eq!(
                    fingerprint_aircall(&back.contact, s),
                    fingerprint_crm(&p, s)
                );
                let merged = to_aircall(&p, Some(&c), s);
                assert_eq!(
                    merged.contact,
                    AircallContact {
                        id: None,
                        ..c.clone()
                    }
                );
            }
        }
    }

    #[test]
    fn hubspot_properties_and_their_translation_have_the_same_fingerprint() {
        let s = sync(json!({"direction": "both", "phone": {"default_country": "GB"}}));
        let hubspot_contacts = [
            props(&[
                ("firstname", "Ada"),
                ("lastname", "Lovelace"),
                ("phone", "020 7946 0958"),
            ]),
            props(&[
                ("email", "Ada@Example.org"),
                ("mobilephone", "07911 123456"),
            ]),
            props(&[
                ("firstname", "Ada"),
                ("company", " Analytical   Engines "),
                ("zip", "N1"),
            ]),
            props(&[]),
        ];
        for p in &hubspot_contacts {
            for current in [None, Some(jean())] {
                let out = to_aircall(p, current.as_ref(), &s);
                let written = to_crm(&out.contact, &s);
                let mut expected = written.clone();
                expected.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
                assert_eq!(
                    fingerprint_crm(&expected, &s),
                    fingerprint_aircall(&out.contact, &s),
                    "{p:?} {:?} {expected:?}",
                    out.contact
                );
            }
            let out = to_aircall(p, None, &s);
            assert_eq!(
                fingerprint_aircall(&out.contact, &s),
                fingerprint_crm(p, &s),
                "{p:?}"
            );
        }
    }

    #[test]
    fn the_fingerprint_ignores_order_formatting_and_case_but_not_changes() {
        let s = both();
        let base = fingerprint_aircall(&jean(), &s);
        let mut shuffled = jean();
        shuffled.phone_numbers.reverse();
        shuffled.emails[0].value = "jean.dupont@acme.com".into();
        shuffled.phone_numbers[0].value = "+1 (415) 555-2671".into();
        shuffled.first_name = text(" Jean ");
        assert_eq!(fingerprint_aircall(&shuffled, &s), base);
        let mut changed = jean();
        changed.company_name = text("Other");
        assert_ne!(fingerprint_aircall(&changed, &s), base);
        let mut unmapped = jean();
        unmapped.information = text("not mapped by default");
        assert_eq!(fingerprint_aircall(&unmapped, &s), base);

        let p = to_crm(&jean(), &s);
        let mut national = p.clone();
        national.insert("phone".into(), "(415) 555-2671".into());
        national.insert("zip".into(), "75001".into()); // not mapped
        national.insert("company".into(), "".into()); // empty is unset...
        let mut without_company = p.clone();
        without_company.remove("company");
        assert_eq!(
            fingerprint_crm(&national, &s),
            fingerprint_crm(&without_company, &s)
        );
        assert_ne!(fingerprint_crm(&national, &s), fingerprint_crm(&p, &s));
    }

    #[test]
    fn a_change_in_a_one_way_field_changes_the_fingerprint() {
        let s = sync(json!({"direction": "both", "mappings": [
            {"aircall": "information", "hubspot": "lifecyclestage", "direction": "to_aircall"}
        ]}));
        let p = props(&[("firstname", "Ann"), ("lifecyclestage", "lead")]);
        let c = to_aircall(&p, None, &s).contact;
        assert_eq!(fingerprint_aircall(&c, &s), fingerprint_crm(&p, &s));
        let later = props(&[("firstname", "Ann"), ("lifecyclestage", "customer")]);
        assert_ne!(fingerprint_crm(&later, &s), fingerprint_aircall(&c, &s));
    }

    #[test]
    fn a_stored_mapping_to_an_unknown_aircall_field_is_reported_not_a_crash() {
        // As a setting stored by hand, or by a later version, might read.
        let stored: ContactSync = serde_json::from_value(json!({
            "direction": "both",
            "mappings": [{"aircall": "nickname", "hubspot": "jobtitle", "direction": "both"}]
        }))
        .unwrap();
        let properties: CrmProperties = [("jobtitle".to_string(), "CTO".to_string())].into();
        let written = to_aircall(&properties, None, &stored);
        assert!(
            written.problems.iter().any(|p| p.contains("nickname")),
            "{:?}",
            written.problems
        );
    }
}
