//! How large an agent's patch may be before it is not graded: a byte size and a count of
//! files, from `[limits]` in suite.toml, overridden by an agent spec's own `patch_bytes` and
//! `patch_files`. A patch over either is kept only as its hash, size, file count and first
//! part, so a flood of bytes or files can neither fill the store nor stall grading.

use serde::Serialize;

/// The default size limit: far above real fixes, far below what a store should hold.
pub const DEFAULT_PATCH_BYTES: u64 = 4 << 20;
/// The default count of files a patch may touch.
pub const DEFAULT_PATCH_FILES: u64 = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PatchLimits {
    pub bytes: u64,
    pub files: u64,
}

impl Default for PatchLimits {
    fn default() -> Self {
        PatchLimits {
            bytes: DEFAULT_PATCH_BYTES,
            files: DEFAULT_PATCH_FILES,
        }
    }
}

impl PatchLimits {
    /// This suite's limits with an agent's own values in their place where it gives them.
    pub fn for_agent(self, bytes: Option<u64>, files: Option<u64>) -> PatchLimits {
        PatchLimits {
            bytes: bytes.unwrap_or(self.bytes),
            files: files.unwrap_or(self.files),
        }
    }
}

/// The smallest accepted values: below them an honest one-line fix might not fit.
pub const MIN_PATCH_BYTES: u64 = 4 << 10;
pub const MIN_PATCH_FILES: u64 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_overrides_only_what_it_gives() {
        let suite = PatchLimits {
            bytes: 1 << 20,
            files: 10,
        };
        assert_eq!(suite.for_agent(None, None), suite);
        assert_eq!(
            suite.for_agent(Some(2 << 20), None),
            PatchLimits {
                bytes: 2 << 20,
                files: 10
            }
        );
        assert_eq!(suite.for_agent(None, Some(3)).files, 3);
    }
}
