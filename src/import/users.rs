//! Whose calls are imported when the CRM names them: `users_from: hubspot_owners` takes the
//! e-mails of the CRM's owners (read at most once an hour) as the import's user list.

use crate::calls::{ImportRules, UsersFrom};
use crate::config::Config;
use crate::crm::{Crm, CrmError};
use crate::integration::Integration;
use crate::ports::Platform;
use crate::retry::Disposition;

/// The integration's import rules in force.
pub async fn rules_in_force<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
) -> Result<ImportRules, CrmError> {
    let rules = &integration.import;
    if rules.users_from != UsersFrom::HubspotOwners {
        return Ok(rules.clone());
    }
    let refused = |message: String| CrmError::Remote {
        message,
        disposition: Disposition::Permanent,
    };
    let token = integration
        .destination_secret(&config.sealer)
        .map_err(|e| refused(format!("the CRM's access token cannot be read: {e}")))?;
    let crm = integration
        .destination
        .as_ref()
        .and_then(|d| d.crm(p, config, &integration.id, &token))
        .ok_or_else(|| refused("the destination is not a CRM".into()))?;
    let owners = crm.owners().await?;
    Ok(rules.with_users(owners.into_iter().filter_map(|o| o.email).collect()))
}
