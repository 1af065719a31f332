//! The holdout split: a deterministic function of the item and the suite's secret salt, so
//! an item is on the same side of the wall every time, and nobody can pick which side a patch
//! lands on without the salt.

use sha2::{Digest, Sha256};

pub const DEV: &str = "dev";
pub const HOLDOUT: &str = "holdout";

/// `holdout` when the salted hash of (task, patch), read as a number in [0, 1), falls below
/// `fraction`; else `dev`.
pub fn split_of(salt: &str, task_hash: &str, patch_sha256: &str, fraction: f64) -> &'static str {
    let mut h = Sha256::new();
    for part in [salt, task_hash, patch_sha256] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    // cannot fail: a SHA-256 digest is 32 bytes.
    let x = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) as f64 / 2f64.powi(64);
    if x < fraction {
        HOLDOUT
    } else {
        DEV
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_deterministic_salted_and_near_its_fraction() {
        let items: Vec<(String, String)> = (0..2000)
            .map(|i| (format!("task{}", i % 40), format!("patch{i}")))
            .collect();
        let held = |salt: &str, f: f64| {
            items
                .iter()
                .filter(|(t, p)| split_of(salt, t, p, f) == HOLDOUT)
                .count()
        };
        assert_eq!(held("s1", 0.5), held("s1", 0.5));
        let n = held("s1", 0.5);
        assert!((900..=1100).contains(&n), "{n}");
        assert!(
            (500..=700).contains(&held("s1", 0.3)),
            "{}",
            held("s1", 0.3)
        );
        assert_eq!(held("s1", 0.0), 0);
        assert_eq!(held("s1", 1.0), 2000);
        // Another salt puts different items behind the wall.
        let moved = items
            .iter()
            .filter(|(t, p)| split_of("s1", t, p, 0.5) != split_of("s2", t, p, 0.5))
            .count();
        assert!(moved > 700, "{moved}");
    }
}
