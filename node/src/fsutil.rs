//! Replacing a file the node's operators edit in place (keys, genesis, config).

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically: written beside it (beside the target of a
/// symlink), synced, given the old file's owner and permissions, then renamed over it, so a
/// crash leaves one whole file or the other, and root editing the service user's file does
/// not lock the service out of it. A failure leaves the file as it was and no temporary
/// file behind.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_with_mode(path, bytes, None)
}

/// [`replace`], with permissions `mode` (unix) instead of the old file's.
pub fn replace_with_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let path =
        &std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    let before =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let tmp = path.with_extension("replacing");
    let _ = std::fs::remove_file(&tmp);
    let written = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut permissions = before.permissions();
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            permissions.set_mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        f.set_permissions(permissions)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        own_like(&tmp, &before)?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The new file is in place; a failed directory sync only weakens crash durability.
    if let Some(dir) = path.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Gives `path` the owner of the file `before` describes, if it differs.
pub fn own_like(path: &Path, before: &std::fs::Metadata) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let now = std::fs::metadata(path)?;
        if (before.uid(), before.gid()) != (now.uid(), now.gid()) {
            std::os::unix::fs::chown(path, Some(before.uid()), Some(before.gid()))
                .with_context(|| format!("cannot give {} its owner back", path.display()))?;
        }
    }
    Ok(())
}
