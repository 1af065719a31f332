//! Reviewers: who may label. Adding one makes a login token that is shown once and stored
//! only as its hash.

use crate::error::Error;
use crate::review::web::auth::{new_secret, token_hash};
use crate::store::Store;

/// Adds a reviewer who can log in to the labeling app; returns their token, which exists
/// nowhere else from then on. The name is trimmed and must be printable.
pub fn add(store: &Store, name: &str) -> Result<String, Error> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(Error::Usage(
            "a reviewer name must be printable and not empty".into(),
        ));
    }
    let token = new_secret("mbr_");
    store.add_reviewer(name.trim(), Some(&token_hash(&token)))?;
    Ok(token)
}
