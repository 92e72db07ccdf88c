//! CPU cost of the hot paths, measured natively for `npm run bench` (run with
//! `cargo test --release --lib cpu:: -- --ignored --nocapture`). workerd cannot report CPU
//! time locally, so these native figures stand in; WebAssembly runs them somewhat slower.
//! Nothing here passes or fails on timing.

#[cfg(test)]
mod tests {
    use crate::consumer::Job;
    use crate::delivery::{Delivery, Payload};
    use crate::import::{import_call, sync, Trigger, PAGES_PER_STEP};
    use crate::ingress::receive;
    use crate::ports::QueueName;
    use crate::testing::{config, integration, run, MemoryPlatform};
    use serde_json::json;
    use std::time::Instant;

    /// A call as Aircall's API shows it, every field filled.
    fn realistic(id: i64, started_at: i64) -> serde_json::Value {
        json!({
            "id": id, "direct_link": format!("https://api.aircall.io/v1/calls/{id}"),
            "started_at": started_at, "answered_at": started_at + 6, "ended_at": started_at + 186,
            "duration": 186, "status": "done", "direction": "inbound", "missed_call_reason": null,
            "raw_digits": "+33 6 12 34 56 78", "recording": format!("https://r.test/{id}.mp3"),
            "voicemail": null, "archived": false, "asset": null,
            "user": {"id": 456, "direct_link": "https://api.aircall.io/v1/users/456", "name": "Madeline Agent", "email": "madeline@example.com", "available": true},
            "number": {"id": 789, "direct_link": "https://api.aircall.io/v1/numbers/789", "name": "Sales FR", "digits": "+33 1 76 36 06 95", "country": "FR", "time_zone": "Europe/Paris", "open": true},
            "contact": {"id": 321, "first_name": "Jean", "last_name": "Dupont", "company_name": "ACME", "phone_numbers": [{"id": 1, "label": "work", "value": "+33612345678"}], "emails": []},
            "assigned_to": null, "teams": [], "comments": [{"id": 1, "content": "Call back Monday", "posted_at": started_at + 200}],
            "tags": [{"id": 11, "name": "Lead"}]
        })
    }

    /// A Segment integration, created through the real `create`.
    fn segment_integration(p: &MemoryPlatform) -> crate::integration::Integration {
        p.respond(|request| match request.method {
            "POST" => Ok(crate::testing::answer(
                201,
                &[],
                r#"{"webhook":{"webhook_id":"wh-2","token":"t"}}"#,
            )),
            _ => Ok(crate::testing::answer(200, &[], "{}")),
        });
        let new = crate::integration::NewIntegration {
            name: "Segment".into(),
            credentials: crate::aircall::Credentials::Basic {
                api_id: "id".into(),
                api_token: "token".into(),
            },
            destination: Some(crate::testing::destination(
                serde_json::json!({"type": "segment", "write_key": "wk", "region": "us"}),
            )),
            events: None,
            import: Default::default(),
            numbers: None,
            contact_sync: None,
            insight_cards: None,
        };
        run(crate::lifecycle::create(p, &config(), new))
            .unwrap()
            .integration
    }

    /// Mean microseconds of `work` over `rounds` runs, after one warm-up run.
    fn micros(rounds: u32, mut work: impl FnMut()) -> f64 {
        work();
        let started = Instant::now();
        for _ in 0..rounds {
            work();
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
    }

    #[test]
    #[ignore = "a measurement, run by npm run bench"]
    fn cpu_per_hot_path() {
        let now = 1_763_980_000;
        let p = MemoryPlatform::default();
        p.now_ms.set(now as u64 * 1000);
        let (i, _, token) = integration(&p, None);

        // Ingress: one call.ended webhook, checked and queued (with its import job).
        let body = json!({"resource": "call", "event": "call.ended", "timestamp": now,
                          "token": token, "data": realistic(1, now - 200)})
        .to_string();
        let ingress = micros(500, || {
            run(receive(&p, &config(), &i.id, body.as_bytes())).unwrap();
            p.take_sent();
        });

        // An import step: its pages of 50 calls listed, checked and queued as call jobs. The
        // pages are rendered beforehand, so only the connector's own work is measured.
        let pages: Vec<String> = (0..PAGES_PER_STEP as i64)
            .map(|page| {
                let calls: Vec<_> = (0..50)
                    .map(|n| realistic(page * 50 + n + 10, now - 10_000 + (page * 50 + n) * 20))
                    .collect();
                json!({"calls": calls, "meta": {"total": 50 * PAGES_PER_STEP}}).to_string()
            })
            .collect();
        p.respond(move |request| {
            let url = url::Url::parse(&request.url).unwrap();
            if url.host_str() == Some("r.test") {
                return Ok(crate::testing::recording(
                    request,
                    crate::testing::RECORDING_BYTES,
                ));
            }
            let page: usize = url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map_or(1, |(_, v)| v.parse().unwrap());
            Ok(crate::testing::answer(200, &[], &pages[page - 1]))
        });
        let step = micros(20, || {
            let cursor = json!({"started_at": now - 20_000, "ids_at_started_at": []}).to_string();
            run(crate::ports::Store::put(
                &p,
                &format!("cursor:{}", i.id),
                &cursor,
                None,
            ))
            .unwrap();
            run(sync(&p, &config(), &i.id, Trigger::Admin, None)).unwrap();
            p.now_ms.set(p.now_ms.get() + 61_000); // a fresh rate budget each round
        });
        let jobs = p.take_sent();

        // One call's job: recording probed and archived, record queued for delivery.
        let job = jobs
            .iter()
            .find_map(|(_, m, _)| match crate::consumer::Job::from_message(m) {
                Ok(crate::consumer::Job::Import(job)) => Some(*job),
                _ => None,
            })
            .expect("a call job");
        let call_job = micros(200, || {
            p.kv.borrow_mut().retain(|k, _| !k.starts_with("imported:"));
            run(import_call(&p, &config(), job.clone())).unwrap();
            p.take_sent();
        });

        // Reading one page of 50 calls (what the client does with Aircall's answer).
        #[derive(serde::Deserialize)]
        struct Page {
            calls: Vec<crate::aircall::Call>,
        }
        let page = json!({"calls": (0..50).map(|n| realistic(n, now)).collect::<Vec<_>>()});
        let page = page.to_string();
        let parse = micros(50, || {
            let page: Page = serde_json::from_str(&page).unwrap();
            assert_eq!(page.calls.len(), 50);
        });
        // Delivery to Segment: a queue batch of 47 (JOBS' max_batch_size) call.ended events of
        // one integration, mapped, packed and sent in one /v1/batch request.
        p.now_ms.set(p.now_ms.get() + 61_000); // a fresh rate budget for its creation
        let segment = segment_integration(&p);
        let batch: Vec<String> = (0..47)
            .map(|n| {
                let data = realistic(100 + n, now - 300);
                Job::Deliver(Delivery {
                    id: format!("msg_{n:032}"),
                    integration_id: segment.id.clone(),
                    event: "call.ended".into(),
                    occurred_at: now,
                    payload: Payload::Inline {
                        data: data.as_object().unwrap().clone(),
                    },
                    attempt: 1,
                })
                .to_message()
            })
            .collect();
        p.respond(|_| Ok(crate::testing::answer(200, &[], "{}")));
        let segment_batch = micros(50, || {
            run(crate::consumer::handle_batch(
                &p,
                &config(),
                QueueName::Jobs,
                &batch,
            ));
            p.take_sent();
        });
        // The event log's share: the batch's steps (each with the payload as received and as
        // sent) serialized into the one request the platform sends after the batch.
        p.take_notes();
        run(crate::consumer::handle_batch(
            &p,
            &config(),
            QueueName::Jobs,
            &batch,
        ));
        let notes: Vec<crate::event_log::Entry> =
            p.take_notes().into_iter().map(|(_, e)| e).collect();
        assert_eq!(notes.len(), 47);
        let log_write = micros(50, || {
            std::hint::black_box(serde_json::to_string(&notes).unwrap());
        });
        // Trimming a 900 KB event (7,000 fields) to Segment's 32 KB: mapped and trimmed, as
        // the consumer does before packing.
        let huge = crate::destinations::segment::mapping_tests::call_of_900_kb();
        let trim_900_kb = micros(10, || {
            let mut track =
                crate::destinations::segment::messages("m", "call.ended", now, &huge).remove(0);
            let removed =
                crate::destinations::segment::trim(&mut track, 32_000).expect("trimmable");
            assert!(!removed.is_empty());
        });
        println!("cpu: segment_trim_900kb_event_us {trim_900_kb:.1}");
        println!(
            "cpu: segment_delivery_per_event_us {:.1}",
            segment_batch / 47.0
        );
        println!("cpu: event_log_write_per_event_us {:.1}", log_write / 47.0);
        println!("cpu: page_of_50_calls_parse_us {parse:.1}");
        println!("cpu: ingress_event_us {ingress:.1}");
        println!("cpu: import_step_us {step:.1}");
        println!("cpu: import_call_us {call_job:.1}");
    }
}
