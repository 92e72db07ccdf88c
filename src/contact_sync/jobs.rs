//! Contact sync's queue messages at work: a pass step put back for later behind a rate
//! limit, a contact job retried with back-off while the cause may pass.

use super::{abandon_pass, pass_step, pull_contact, ContactJob, PassJob, SyncError};
use crate::config::Config;
use crate::infra::InfraError;
use crate::ports::Platform;
use crate::retry::{jitter, spread, Disposition, Failure};

/// One step of a contact sync pass; a rate limit puts it back for later.
pub async fn run_pass<P: Platform>(p: &P, config: &Config, job: PassJob) -> Result<(), InfraError> {
    match pass_step(p, config, job.clone()).await {
        Ok(()) => Ok(()),
        Err(SyncError::Infra(e)) => Err(e),
        Err(e) => match e.disposition().wait_seconds() {
            Some(seconds) => {
                crate::queue::send(p, &job, seconds).await?;
                Ok(())
            }
            None => {
                p.log(&format!(
                    "contact sync pass of integration {} stopped: {e}; the next pass resumes from its cursor",
                    job.integration_id
                ));
                abandon_pass(p, &job).await?;
                Ok(())
            }
        },
    }
}

/// One HubSpot contact to Aircall; retried with back-off while the cause may pass.
pub async fn run_contact<P: Platform>(
    p: &P,
    config: &Config,
    job: ContactJob,
) -> Result<(), InfraError> {
    let error = match pull_contact(p, config, &job).await {
        Ok(outcome) => {
            p.log(&format!(
                "HubSpot contact {} of integration {}: {outcome:?}",
                job.crm.id, job.integration_id
            ));
            return Ok(());
        }
        Err(SyncError::Infra(e)) => return Err(e),
        Err(e) => e,
    };
    // A rate limit (ours or theirs) is a wait for the budget, not a failed attempt.
    let disposition = error.disposition();
    let wait = disposition.wait_seconds();
    let transient = disposition == Disposition::Transient;
    if wait.is_some() || (transient && !config.retry.gives_up_after(job.attempt)) {
        let delay = match wait {
            Some(seconds) => spread(seconds),
            None => config.retry.delay_after(job.attempt, None, jitter()),
        };
        let next = ContactJob {
            attempt: job.attempt + u32::from(wait.is_none()),
            ..job
        };
        crate::queue::send(p, &next, delay).await?;
    } else {
        p.log(&format!(
            "HubSpot contact {} of integration {} not synced: {error}",
            job.crm.id, job.integration_id
        ));
    }
    Ok(())
}
