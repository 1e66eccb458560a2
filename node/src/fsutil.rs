//! Replacing a file the node's operators edit in place (keys, genesis, config).

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically: written beside it, synced, given the old file's
/// owner and permissions, then renamed over it, so a crash leaves one whole file or the
/// other, and root editing the service user's file does not lock the service out of it.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("replacing");
    let _ = std::fs::remove_file(&tmp);
    let before =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.set_permissions(before.permissions())?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    own_like(&tmp, &before)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
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
