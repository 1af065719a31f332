//! Reviewers: who may label. Adding one makes a login token that is shown once and stored
//! only as its hash.

use crate::error::Error;
use crate::review::web::auth::{new_secret, token_hash};
use crate::store::Store;

/// A reviewer's name as stored: trimmed, printable (no control characters, which would
/// reach terminals and pages as escapes), not empty. The one check every way in shares.
pub fn checked_name(name: &str) -> Result<&str, String> {
    if name.trim().is_empty()
        || name
            .chars()
            .any(|c| c.is_control() || crate::conventions::unicode::is_hidden(c))
    {
        return Err(format!(
            "reviewer name {name:?} must be printable and not empty"
        ));
    }
    Ok(name.trim())
}

/// Adds a reviewer who can log in to the labeling app; returns their token, which exists
/// nowhere else from then on. The name is trimmed and must be printable.
pub fn add(store: &Store, name: &str) -> Result<String, Error> {
    let name = checked_name(name).map_err(Error::Usage)?;
    let token = new_secret("mbr_");
    store.add_reviewer(name, Some(&token_hash(&token)))?;
    Ok(token)
}
