//! CPU cost of phone normalisation, measured natively for `npm run bench` (its filter `cpu::`
//! picks this up; run alone with `cargo test --release --lib contacts::cpu -- --ignored
//! --nocapture`). The cold figure is the first call in the process: libphonenumber's metadata
//! is decoded and its patterns compiled then, once per isolate in the worker, so it lands on
//! the first request that translates a contact. Nothing here passes or fails on timing.

#[cfg(test)]
mod tests {
    use crate::contacts::{fingerprint_aircall, to_aircall, to_e164};
    use crate::contacts::{AircallContact, ContactSync, CrmProperties, PhoneSettings};
    use serde_json::json;
    use std::time::Instant;

    #[test]
    #[ignore = "a measurement, run by npm run bench"]
    fn phone_normalisation() {
        let settings = PhoneSettings::default();
        // Nothing else in this process has touched the phone metadata yet (the other
        // measurement in `cpu::` does not use it). Fingerprinting an Aircall contact, whose
        // numbers are E.164, must not touch it either: measured first, it shows if it does.
        let sync: ContactSync = serde_json::from_value(json!({"direction": "both"})).unwrap();
        let contact: AircallContact = serde_json::from_value(json!({
            "first_name": "Jean", "last_name": "Dupont", "emails": [{"value": "j@example.com"}],
            "phone_numbers": [{"label": "Work", "value": "+14155552671"},
                              {"label": "Mobile", "value": "+33612345678"}]
        }))
        .unwrap();
        let started = Instant::now();
        fingerprint_aircall(&contact, &sync);
        let fingerprint = started.elapsed().as_secs_f64() * 1e6;

        let started = Instant::now();
        to_e164("+33 6 12 34 56 78", &settings).unwrap();
        let cold = started.elapsed().as_secs_f64() * 1e6;

        let numbers = [
            "(415) 555-2671",
            "+33 6 12 34 56 78",
            "+44 20 7946 0958",
            "+49 30 123456",
            "+81 90 1234 5678",
            "+61 412 345 678",
            "+55 11 91234 5678",
            "+91 98765 43210",
        ];
        let rounds = 500;
        let started = Instant::now();
        for _ in 0..rounds {
            for n in numbers {
                to_e164(n, &settings).unwrap();
            }
        }
        let warm = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds * 8);

        // A whole HubSpot contact translated for Aircall (names, e-mail, two numbers).
        let p: CrmProperties = [
            ("firstname", "Jean"),
            ("lastname", "Dupont"),
            ("email", "jean@example.com"),
            ("phone", "(415) 555-2671"),
            ("mobilephone", "+33 6 12 34 56 78"),
            ("company", "ACME"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let started = Instant::now();
        for _ in 0..rounds {
            to_aircall(&p, None, &sync);
        }
        let contact = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);

        println!("cpu: contact_fingerprint_cold_us {fingerprint:.1}");
        println!("cpu: phone_to_e164_cold_us {cold:.1}");
        println!("cpu: phone_to_e164_warm_us {warm:.2}");
        println!("cpu: contact_to_aircall_us {contact:.1}");

        // What the contact sync form is built from (GET /api/contact-sync): every pair's rule
        // and the countries with a numbering plan, the phone metadata already started above.
        let started = Instant::now();
        for _ in 0..20 {
            crate::contacts::form_catalogue();
        }
        let catalogue = started.elapsed().as_secs_f64() * 1e6 / 20.0;
        println!("cpu: contact_sync_form_catalogue_us {catalogue:.1}");
    }
}
