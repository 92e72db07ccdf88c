//! Whose calls are imported when the CRM names them: `users_from: hubspot_owners` takes the
//! e-mails of the CRM's owners (read at most once an hour) as the import's user list.

use crate::calls::{ImportRules, UsersFrom};
use crate::config::Config;
use crate::destinations::hubspot::{owners, CallLogError, HubspotClient, HubspotError};
use crate::integration::Integration;
use crate::ports::Platform;

/// The integration's import rules in force.
pub async fn rules_in_force<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
) -> Result<ImportRules, CallLogError> {
    let rules = &integration.import;
    if rules.users_from != UsersFrom::HubspotOwners {
        return Ok(rules.clone());
    }
    let token = integration
        .destination_secret(&config.sealer)
        .map_err(|e| {
            CallLogError::Hubspot(HubspotError::Rejected {
                status: 0,
                message: format!("the access token cannot be read: {e}"),
            })
        })?;
    let hubspot = HubspotClient::new(p, config, &token);
    let owners = owners(p, &integration.id, &hubspot).await?;
    Ok(rules.with_users(owners.into_iter().filter_map(|o| o.email).collect()))
}
