//! What the contact sync form is built from (`GET /api/contact-sync`): both apps' fields with
//! their types, which pairs the types allow in which direction and why not, the default
//! mapping, the filter operators and the countries a default country may be. The rules stay
//! here: the browser shows them, it never repeats them.

use super::fields::{self, Field};
use super::filters::Op;
use super::mapping::{default_mappings, pair};
use super::phone;
use serde_json::{json, Value};

pub fn catalogue() -> Value {
    let field = |f: &Field| json!({"name": f.name, "type": f.type_name(), "list": f.list, "read_only": f.read_only});
    let pairs: Vec<Value> = fields::AIRCALL
        .iter()
        .flat_map(|a| fields::HUBSPOT.iter().map(move |h| (a, h)))
        .map(|(a, h)| {
            let pair = pair(a, h);
            json!({"aircall": a.name, "hubspot": h.name, "to_hubspot": pair.to_crm,
                   "to_aircall": pair.to_aircall, "why": pair.why})
        })
        .collect();
    let operators: Vec<Value> = Op::ALL
        .iter()
        .map(|op| json!({"op": op.name(), "needs_value": op.needs_value()}))
        .collect();
    json!({
        "directions": ["to_hubspot", "to_aircall", "both"],
        "aircall_fields": fields::AIRCALL.iter().map(field).collect::<Vec<_>>(),
        "hubspot_fields": fields::HUBSPOT.iter().map(field).collect::<Vec<_>>(),
        "pairs": pairs,
        "default_mappings": default_mappings(),
        "operators": operators,
        "countries": countries(),
        "default_country": phone::PhoneSettings::default().default_country,
    })
}

/// Every ISO 3166 alpha-2 code with a numbering plan (the browser names them).
fn countries() -> Vec<String> {
    let letters = b'A'..=b'Z';
    letters
        .flat_map(|a| (b'A'..=b'Z').map(move |b| String::from_utf8(vec![a, b]).expect("ASCII")))
        .filter(|code| phone::region(code).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::ContactSync;

    #[test]
    fn every_pair_says_what_a_save_would_answer() {
        let catalogue = catalogue();
        let pairs = catalogue["pairs"].as_array().unwrap();
        assert_eq!(pairs.len(), fields::AIRCALL.len() * fields::HUBSPOT.len());
        for p in pairs {
            for direction in ["to_hubspot", "to_aircall", "both"] {
                let allowed = match direction {
                    "both" => p["to_hubspot"] == true && p["to_aircall"] == true,
                    d => p[d] == true,
                };
                let setting = json!({"direction": "both", "mappings": [
                    {"aircall": p["aircall"], "hubspot": p["hubspot"], "direction": direction}]});
                match ContactSync::parse(&setting) {
                    // A pair the types allow may still meet a default mapping: not this rule.
                    Ok(_) => assert!(allowed, "{p} {direction}"),
                    Err(problems) if !allowed => {
                        let why = p["why"].as_str().expect("a refused pair says why");
                        assert!(problems.iter().any(|(_, m)| m == why), "{p}: {problems:?}");
                    }
                    Err(problems) => assert!(
                        problems.iter().all(|(_, m)| m.contains("already")),
                        "{p} {direction}: {problems:?}"
                    ),
                }
            }
        }
        let of = |a: &str, h: &str| {
            pairs
                .iter()
                .find(|p| p["aircall"] == a && p["hubspot"] == h)
                .unwrap()
                .clone()
        };
        assert_eq!(
            of("emails", "phone")["why"],
            "Aircall emails (e-mail list) cannot be mapped to HubSpot phone (phone number)"
        );
        assert_eq!(of("information", "jobtitle")["why"], Value::Null);
    }

    #[test]
    fn lists_the_countries_a_default_country_may_be() {
        let catalogue = catalogue();
        let countries: Vec<&str> = catalogue["countries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for code in ["US", "FR", "GB", "DE", "JP"] {
            assert!(countries.contains(&code), "{code}");
        }
        assert!(!countries.contains(&"ZZ") && countries.len() > 200);
        assert_eq!(catalogue["default_country"], "US");
        assert_eq!(
            catalogue["operators"][3],
            json!({"op": "is_set", "needs_value": false})
        );
    }
}
