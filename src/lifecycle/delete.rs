//! Deletion: everything the integration left anywhere, the record last; what one request
//! cannot finish goes on in the queue.

use super::{load, LifecycleError};
use crate::aircall::{AircallClient, AircallError};
use crate::config::Config;
use crate::integration::{Actor, Cause, Change, Deactivation, Integration, Integrations, Status};
use crate::keys::{self, DROPPED_COUNTER};
use crate::ports::{all_keys, Platform, Store, StoreError};
use serde::{Deserialize, Serialize};

/// KV deletions one request (or queue message) makes before handing over to the queue:
/// Workers allow 1,000 KV operations per invocation, and listing takes some.
pub const KV_DELETES_PER_STEP: usize = 800;

/// What a deletion removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deleted {
    /// `removed`, or why it could not be.
    pub aircall_webhook: String,
    pub kv_keys: u64,
    pub recordings: u64,
    pub synced_contacts: u64,
    /// `false` when the rest of the KV keys are being deleted in the queue.
    pub finished: bool,
}

/// The queue message that carries on a large deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurgeJob {
    pub integration_id: String,
}

impl crate::queue::Message for PurgeJob {
    const KIND: &'static str = "purge";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::Work;
}

/// Deletes the integration entirely: its Aircall webhook, the contacts it synced into
/// Aircall, its archived recordings, its objects in `ACCOUNT_GATE`, its event log and every KV key of
/// [`keys::kv_prefixes`], the record last. An interrupted deletion is finished by the next.
pub async fn delete<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
) -> Result<Deleted, LifecycleError> {
    let mut integration = load(p, id).await?;
    // First stop it: webhooks are dropped and imports do nothing while it goes.
    if integration.deactivation.as_ref().map(|d| d.cause) != Some(Cause::Deleting) {
        let now = p.now_seconds();
        let reason = "being deleted";
        integration.status = Status::Inactive;
        integration.deactivation = Some(Deactivation {
            by: Actor::Admin,
            cause: Cause::Deleting,
            reason: reason.into(),
            at: now,
        });
        integration.record(now, Actor::Admin, Change::DeletionStarted, reason);
        Integrations::new(p).save(&integration).await?;
    }
    let credentials = integration.credentials(&config.sealer)?;
    let aircall_webhook = match AircallClient::new(p, config, &credentials)
        .delete_webhook(&integration.aircall_webhook_id)
        .await
    {
        Ok(()) => "removed".to_string(),
        // Credentials that no longer open the account cannot remove it; the webhook then
        // posts to an id that answers 404, and Aircall disables it.
        Err(AircallError::Rejected { status, .. }) => format!(
            "not removed: Aircall rejected the credentials (HTTP {status}); remove webhook {} \
             in Aircall's dashboard",
            integration.aircall_webhook_id
        ),
        Err(e) => return Err(e.into()),
    };
    let (synced_contacts, contacts_left) = remove_synced_contacts(p, config, &integration).await?;
    let recordings = p.delete_all(&keys::recordings_prefix(id)).await?;
    p.clear(&integration.aircall_account, &keys::import_lease(id))
        .await?;
    p.clear(&keys::gate_name(id), DROPPED_COUNTER).await?;
    for counter in [keys::CARDS_POSTED_COUNTER, keys::CARDS_SKIPPED_COUNTER] {
        p.clear(&keys::gate_name(id), counter).await?;
    }
    p.erase(id).await?;
    // The list of created contacts is state too: it goes only once they are gone from Aircall.
    let (kv_keys, finished) = if contacts_left {
        (0, false)
    } else {
        purge_keys(p, id, KV_DELETES_PER_STEP).await?
    };
    if !finished {
        let job = PurgeJob {
            integration_id: id.to_string(),
        };
        crate::queue::send(p, &job, 1).await?;
    }
    p.log(&format!(
        "deleted integration {id}: webhook {aircall_webhook}, {kv_keys} KV keys, {recordings} recordings{}",
        if finished { "" } else { "; the rest goes on in the queue" }
    ));
    Ok(Deleted {
        aircall_webhook,
        kv_keys,
        recordings,
        synced_contacts,
        finished,
    })
}

/// Contacts deleted from Aircall per request or queue step (each is a subrequest).
const CONTACTS_PER_STEP: usize = 40;

/// Deletes from Aircall a step's worth of the contacts the integration's contact sync created
/// there (only those: contacts it merely updated stay); answers how many, and whether some
/// are left. Credentials Aircall rejects cannot delete anything: that is logged, not retried.
async fn remove_synced_contacts<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
) -> Result<(u64, bool), LifecycleError> {
    use crate::contact_sync::SyncError;
    match crate::contact_sync::remove_created(p, config, integration, CONTACTS_PER_STEP).await {
        Ok(removed) => Ok(removed),
        Err(SyncError::Aircall(AircallError::RateLimited { .. })) => Ok((0, true)),
        Err(SyncError::Aircall(AircallError::Rejected { status, .. })) => {
            p.log(&format!(
                "the contacts integration {} created in Aircall cannot be deleted: Aircall rejected the credentials (HTTP {status})",
                integration.id
            ));
            Ok((0, false))
        }
        Err(SyncError::Aircall(e)) => Err(e.into()),
        Err(SyncError::Infra(e)) => Err(e.into()),
        Err(e) => Err(LifecycleError::Refused(e.to_string())),
    }
}

/// Every KV prefix of the integration's state: what its destinations keep, then its own
/// (the record last).
pub fn state_prefixes(id: &str) -> Vec<String> {
    let mut prefixes = crate::destinations::state_prefixes(id);
    prefixes.extend(keys::kv_prefixes(id));
    prefixes
}

/// Deletes up to `budget` of the integration's KV keys, in [`state_prefixes`] order;
/// answers how many and whether none is left.
pub async fn purge_keys<S: Store>(
    p: &S,
    id: &str,
    budget: usize,
) -> Result<(u64, bool), StoreError> {
    let mut deleted = 0usize;
    for prefix in state_prefixes(id) {
        for key in all_keys(p, &prefix).await? {
            if deleted == budget {
                return Ok((deleted as u64, false));
            }
            p.delete(&key).await?;
            deleted += 1;
        }
    }
    Ok((deleted as u64, true))
}

/// A queued step of a large deletion.
pub async fn purge_step<P: Platform>(
    p: &P,
    config: &Config,
    job: &PurgeJob,
) -> Result<(), LifecycleError> {
    if let Some(integration) = Integrations::new(p).get(&job.integration_id).await? {
        let (removed, left) = remove_synced_contacts(p, config, &integration).await?;
        if left {
            // Aircall's budget sets the pace: a rate-limited step removed nothing.
            let delay = if removed == 0 { 60 } else { 1 };
            crate::queue::send(p, job, delay).await?;
            return Ok(());
        }
    }
    let (deleted, finished) = purge_keys(p, &job.integration_id, KV_DELETES_PER_STEP).await?;
    if !finished {
        crate::queue::send(p, job, 1).await?;
    }
    p.log(&format!(
        "deleting integration {}: {deleted} more KV keys{}",
        job.integration_id,
        if finished { ", done" } else { "" }
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::Job;
    use crate::integration::count_dropped;
    use crate::lifecycle::fixtures::{aircall, stored};
    use crate::ports::Gate;

    use crate::testing::{answer, config, integration, run, MemoryPlatform};
    use serde_json::json;

    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn delete_removes_every_key_recording_and_lease_and_a_second_one_finds_nothing() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let (other, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(true)));
        for prefix in state_prefixes(&i.id)
            .iter()
            .chain(state_prefixes(&other.id).iter())
        {
            p.kv.borrow_mut()
                .entry(format!("{prefix}x"))
                .or_insert_with(|| "1".into());
        }
        p.archive
            .borrow_mut()
            .insert(format!("recordings/{}/1.mp3", i.id), vec![1]);
        p.archive
            .borrow_mut()
            .insert(format!("recordings/{}/1.mp3", other.id), vec![1]);
        run(p.lease("acct", &i.id, "run-1", 900)).unwrap();
        run(count_dropped(&p, &i.id)).unwrap();
        // Both have an event in their log.
        for id in [&i.id, &other.id] {
            let entry = crate::event_log::Entry {
                event_id: "msg_01".into(),
                at_ms: p.now_ms.get(),
                event: "call.created".into(),
                occurred_at: None,
                status: crate::event_log::Status::Filtered,
                reason: None,
                attempt: 0,
                delivery_id: None,
                destination: None,
                received: None,
                sent: None,
            };
            crate::ports::EventLog::note(&p, id, entry);
        }
        run(p.flush_log());

        let deleted = run(delete(&p, &config(), &i.id)).unwrap();
        assert_eq!(deleted.aircall_webhook, "removed");
        assert_eq!((deleted.recordings, deleted.finished), (1, true));
        assert!(
            p.kv.borrow().keys().all(|k| !k.contains(&i.id)),
            "{:?}",
            p.kv.borrow().keys()
        );
        // One key under each prefix, and the record itself; the `aircall-created:` entry
        // (not a contact id) went with the contacts' removal.
        assert_eq!(deleted.kv_keys as usize, state_prefixes(&i.id).len());
        let others =
            p.kv.borrow()
                .keys()
                .filter(|k| k.contains(&other.id))
                .count();
        assert_eq!(
            others,
            state_prefixes(&other.id).len() + 1,
            "the other one keeps all"
        );
        assert_eq!(p.archive.borrow().len(), 1);
        let logs = p.event_logs.borrow();
        assert!(!logs.contains_key(&i.id), "its event log is erased");
        assert!(
            !logs[&other.id].0.borrow().is_empty(),
            "the other's is kept"
        );
        drop(logs);
        assert!(
            p.leases.borrow().get(&i.id).is_none(),
            "the lease is released"
        );
        assert!(p
            .counters
            .borrow()
            .keys()
            .all(|(name, _)| !name.contains(&i.id)));
        assert!(matches!(
            run(delete(&p, &config(), &i.id)),
            Err(LifecycleError::NotFound)
        ));
    }

    /// Handles every queued message as the consumer would, until none is left.
    fn pump(p: &MemoryPlatform) {
        for _ in 0..1_000 {
            let Some((queue, message, _)) = p.next_sent() else {
                return;
            };
            run(crate::consumer::handle_message(
                p,
                &config(),
                queue,
                &message,
            ));
        }
        panic!("the queues never emptied");
    }

    #[test]
    fn deletion_removes_what_the_real_paths_wrote_and_only_that() {
        use crate::testing::{aircall_calls_answer, FakeCalls};
        let p = MemoryPlatform::default();
        let (i, _, token) = integration(&p, None);
        let (other, _, _) = integration(&p, None);
        // An Aircall account with calls (one not recorded yet), and a receiver that refuses
        // everything, so that deliveries end as dead letters.
        let calls = FakeCalls::default();
        let now = (p.now_ms.get() / 1000) as i64;
        calls.add(vec![
            json!({"id": 1, "started_at": now - 600, "recording": "https://r.test/1.mp3",
                   "user": {"id": 1, "email": "agent@example.com"}}),
            json!({"id": 2, "started_at": now - 500, "answered_at": now - 490, "recording": null,
                   "user": {"id": 1, "email": "agent@example.com"}}),
        ]);
        let aircall = aircall_calls_answer(calls);
        p.respond(move |r| match (r.method, r.url.as_str()) {
            ("POST", "https://receiver.test/hook") => Ok(answer(410, &[], "gone")),
            ("DELETE", _) => Ok(answer(204, &[], "")),
            _ => aircall(r),
        });
        for id in [&i.id, &other.id] {
            run(crate::import::sync(
                &p,
                &config(),
                id,
                crate::import::Trigger::Admin,
                None,
            ))
            .unwrap();
        }
        // A webhook too large for a queue message waits in KV.
        let big = json!({"event": "user.created.v2", "token": token, "timestamp": now,
                         "data": {"id": 7, "note": "x".repeat(100_000)}});
        run(crate::ingress::receive(
            &p,
            &config(),
            &i.id,
            big.to_string().as_bytes(),
        ))
        .unwrap();
        pump(&p);
        // Counted while inactive.
        run(crate::integration::deactivate(
            &p,
            &i.id,
            Actor::Admin,
            Cause::Admin,
            "x",
        ))
        .unwrap();
        run(crate::ingress::receive(
            &p,
            &config(),
            &i.id,
            big.to_string().as_bytes(),
        ))
        .unwrap();

        let written: std::collections::BTreeSet<String> =
            p.kv.borrow()
                .keys()
                .filter(|k| k.contains(&i.id))
                .map(|k| k[..k.find(':').unwrap_or(k.len())].to_string())
                .collect();
        for kind in [
            "cursor",
            "run",
            "outcome",
            "imported",
            "recheck",
            "dead_letter",
            "payload",
        ] {
            assert!(
                written.contains(kind),
                "no {kind} key was written: {written:?}"
            );
        }
        assert!(p.archive.borrow().keys().any(|k| k.contains(&i.id)));
        let others_before =
            p.kv.borrow()
                .keys()
                .filter(|k| k.contains(&other.id))
                .count();

        let deleted = run(delete(&p, &config(), &i.id)).unwrap();
        assert!(deleted.finished);
        let left: Vec<String> =
            p.kv.borrow()
                .keys()
                .filter(|k| k.contains(&i.id))
                .cloned()
                .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert!(p.archive.borrow().keys().all(|k| !k.contains(&i.id)));
        assert!(p
            .counters
            .borrow()
            .keys()
            .all(|(name, _)| !name.contains(&i.id)));
        let others_after =
            p.kv.borrow()
                .keys()
                .filter(|k| k.contains(&other.id))
                .count();
        assert_eq!(
            others_after, others_before,
            "the other integration keeps all"
        );
    }

    #[test]
    fn a_large_deletion_goes_on_in_the_queue_and_the_record_goes_last() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(true)));
        for n in 0..(KV_DELETES_PER_STEP + 50) {
            p.kv.borrow_mut()
                .insert(format!("run:{}:{n:05}", i.id), "r".into());
        }
        let deleted = run(delete(&p, &config(), &i.id)).unwrap();
        assert_eq!(
            (deleted.kv_keys as usize, deleted.finished),
            (KV_DELETES_PER_STEP, false)
        );
        let record = stored(&p, &i.id);
        assert_eq!(record.deactivation.unwrap().cause, Cause::Deleting);
        let (_, message, _) = p.take_sent().remove(0);
        let Job::Purge(job) = Job::from_message(&message).unwrap() else {
            panic!()
        };
        run(purge_step(&p, &config(), &job)).unwrap();
        assert!(p.kv.borrow().keys().all(|k| !k.contains(&i.id)));
        assert!(p.take_sent().is_empty(), "done");
    }
}
