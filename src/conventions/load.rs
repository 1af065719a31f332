//! Loading `mergebench.toml`: parsed into the plain configuration types of `config`, then
//! every rule, glob and ownership pattern compiled once, so a mistake is reported with its
//! line when the file is read rather than halfway through a run.

use super::config::{Config, ConfigError};
use super::ownership::Ownership;

impl Config {
    /// Parses and validates `mergebench.toml` text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Config, ConfigError> {
        let cfg: Config =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(file, text, &e))?;
        cfg.conventions.validate(file, text)?;
        cfg.blast_radius.validate(file, text)?;
        Ownership::from_config(&cfg.ownership, None)
            .map_err(|e| ConfigError::pattern(file, text, "ownership glob", e))?;
        Ok(cfg)
    }
}
