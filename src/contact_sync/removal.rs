//! Deleting an integration deletes from Aircall the contacts its sync created, and only
//! those.

use super::*;

/// Deletes from Aircall up to `budget` of the contacts the integration created there, and
/// only those; answers how many, and whether any are left.
pub async fn remove_created<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    budget: usize,
) -> Result<(u64, bool), SyncError> {
    let prefix = crate::keys::aircall_created_prefix(&integration.id);
    let page = p.list(&prefix, None).await?;
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(|e| SyncError::NotSynced(e.to_string()))?;
    let aircall = AircallClient::new(p, config, &credentials);
    let mut removed = 0;
    for key in page.keys.iter().take(budget) {
        let Ok(id) = key[prefix.len()..].parse::<i64>() else {
            p.delete(key).await?;
            continue;
        };
        aircall.delete_contact(id).await?;
        p.delete(key).await?;
        removed += 1;
    }
    Ok((removed, page.keys.len() > budget || page.cursor.is_some()))
}
