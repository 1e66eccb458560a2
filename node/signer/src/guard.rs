//! The signer's own double-sign guard, on the signer's disk: it never signs two different
//! digests for one (height, view, phase) of its chain, whatever a node asks, even across
//! restarts of either. Every new signature is appended to a log and synced before it leaves.

use crate::SignerError;
use phalanx_types::consensus::{Phase, Statement};
use phalanx_types::{Hash, Height, View};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Heights kept below the highest signed one: older requests are refused, so the log stays
/// bounded (a node only ever signs at the height it is deciding).
pub const KEEP_HEIGHTS: u64 = 1024;

/// The log is rewritten with only the kept entries when it grows past this many lines.
const COMPACT_LINES: usize = 16 * 1024;

/// The log's first line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    chain_id: String,
}

/// One signed statement.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    height: Height,
    view: View,
    phase: Phase,
    digest: Hash,
}

/// The guard: what was signed, by slot, and the log that keeps it.
#[derive(Debug)]
pub struct Guard {
    path: PathBuf,
    chain_id: String,
    signed: BTreeMap<(Height, View, Phase), Hash>,
    log: File,
    lines: usize,
    /// Set when a write or sync of the log failed: what is on disk is unknown, so nothing
    /// is signed any more until a restart reads it back.
    poisoned: bool,
    /// Held for the guard's life: a second signer on the same log is refused.
    _lock: File,
}

/// Most views one height may have signed entries in; a node far beyond that is stuck or
/// hostile, and the log must stay bounded.
pub const MAX_VIEWS_PER_HEIGHT: usize = 256;

/// What the guard decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Never signed in this slot: recorded and synced, sign it.
    New,
    /// The same statement again (a node that restarted resends): sign it again.
    Again,
}

impl Guard {
    /// Opens the log at `path` for `chain_id`; `create` allows a missing log to start empty
    /// (the first run only: a mistyped path must not silently drop the guard's memory). A
    /// torn last line (a crash while appending; the file does not end in a newline) is
    /// dropped: its signature never left. Anything else unreadable is an error, as is a log
    /// of another chain, or one another signer holds.
    pub fn open(path: &Path, chain_id: &str, create: bool) -> Result<Guard, SignerError> {
        let state = |e: String| SignerError::State(format!("{}: {e}", path.display()));
        let lock_path = path.with_extension("lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| state(e.to_string()))?;
        lock.try_lock().map_err(|_| {
            state(format!(
                "{} is held by another signer; one guard log per signer",
                lock_path.display()
            ))
        })?;
        let mut signed = BTreeMap::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| state(e.to_string()))?;
            let complete = text.ends_with('\n');
            let lines: Vec<&str> = text.lines().collect();
            let header: Header = lines
                .first()
                .and_then(|l| serde_json::from_str(l).ok())
                .ok_or_else(|| state("no header line".into()))?;
            if header.chain_id != chain_id {
                return Err(state(format!(
                    "the guard is for chain {:?}, not {chain_id:?}",
                    header.chain_id
                )));
            }
            let last = lines.len() - 1;
            for (i, line) in lines.iter().enumerate().skip(1) {
                match serde_json::from_str::<Entry>(line) {
                    Ok(e) => {
                        signed.insert((e.height, e.view, e.phase), e.digest);
                    }
                    Err(_) if i == last && !complete => {
                        tracing::warn!(path = %path.display(), "dropping a torn last entry of the sign log");
                    }
                    Err(e) => return Err(state(format!("line {}: {e}", i + 1))),
                }
            }
        } else if !create {
            return Err(state(
                "no such guard log: give the right --state, or --new-state for a signer's first start".into(),
            ));
        }
        prune(&mut signed);
        let log = rewrite(path, chain_id, &signed)?;
        Ok(Guard {
            path: path.to_path_buf(),
            chain_id: chain_id.to_string(),
            lines: signed.len() + 1,
            signed,
            log,
            poisoned: false,
            _lock: lock,
        })
    }

    /// The chain this guard signs for.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The highest height signed.
    pub fn max_height(&self) -> Option<Height> {
        self.signed.keys().next_back().map(|(h, _, _)| *h)
    }

    /// Decides whether `statement` on `chain_id` may be signed; a new one is recorded and
    /// synced to disk before this returns.
    pub fn check(&mut self, chain_id: &str, s: &Statement) -> Result<Verdict, SignerError> {
        if chain_id != self.chain_id {
            return Err(SignerError::Refused(format!(
                "this signer signs for chain {:?}, not {chain_id:?}",
                self.chain_id
            )));
        }
        if let Some(max) = self.max_height()
            && s.height < max.saturating_sub(KEEP_HEIGHTS)
        {
            return Err(SignerError::Refused(format!(
                "height {} is more than {KEEP_HEIGHTS} below the highest signed ({max})",
                s.height
            )));
        }
        if self.poisoned {
            return Err(SignerError::State(
                "an earlier write of the guard log failed; restart the signer".into(),
            ));
        }
        match self.signed.get(&(s.height, s.view, s.phase)) {
            Some(d) if *d == s.digest => return Ok(Verdict::Again),
            Some(d) => {
                return Err(SignerError::Refused(format!(
                    "double sign: {:?} at height {} view {} was signed for {d}, not {}",
                    s.phase, s.height, s.view, s.digest
                )));
            }
            None => {}
        }
        let views = self
            .signed
            .range((s.height, 0, Phase::PrePrepare)..)
            .take_while(|((h, _, _), _)| *h == s.height)
            .map(|((_, v, _), _)| *v)
            .collect::<std::collections::BTreeSet<_>>();
        if !views.contains(&s.view) && views.len() >= MAX_VIEWS_PER_HEIGHT {
            return Err(SignerError::Refused(format!(
                "height {} already has signatures in {MAX_VIEWS_PER_HEIGHT} views",
                s.height
            )));
        }
        // Any failure from here on leaves the log in an unknown state: stop signing.
        if let Err(e) = self.append(s) {
            self.poisoned = true;
            return Err(e);
        }
        self.signed.insert((s.height, s.view, s.phase), s.digest);
        if self.lines > COMPACT_LINES {
            prune(&mut self.signed);
            match rewrite(&self.path, &self.chain_id, &self.signed) {
                Ok(log) => {
                    self.log = log;
                    self.lines = self.signed.len() + 1;
                }
                Err(e) => {
                    self.poisoned = true;
                    return Err(e);
                }
            }
        }
        Ok(Verdict::New)
    }

    fn append(&mut self, s: &Statement) -> Result<(), SignerError> {
        let entry = Entry {
            height: s.height,
            view: s.view,
            phase: s.phase,
            digest: s.digest,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| SignerError::State(e.to_string()))?;
        line.push(b'\n');
        self.log
            .write_all(&line)
            .and_then(|()| self.log.sync_data())
            .map_err(|e| SignerError::State(format!("{}: {e}", self.path.display())))?;
        self.lines += 1;
        Ok(())
    }
}

/// Forgets slots more than [`KEEP_HEIGHTS`] below the highest.
fn prune(signed: &mut BTreeMap<(Height, View, Phase), Hash>) {
    if let Some((max, _, _)) = signed.keys().next_back().copied() {
        let floor = max.saturating_sub(KEEP_HEIGHTS);
        signed.retain(|(h, _, _), _| *h >= floor);
    }
}

/// Writes `signed` to a new log and renames it over the one at `path` (synced, directory
/// included); returns the log opened for appending.
fn rewrite(
    path: &Path,
    chain_id: &str,
    signed: &BTreeMap<(Height, View, Phase), Hash>,
) -> Result<File, SignerError> {
    let err = |e: std::io::Error| SignerError::State(format!("{}: {e}", path.display()));
    let json = |e: serde_json::Error| SignerError::State(e.to_string());
    let mut text = serde_json::to_string(&Header {
        chain_id: chain_id.to_string(),
    })
    .map_err(json)?;
    text.push('\n');
    for ((height, view, phase), digest) in signed {
        let entry = Entry {
            height: *height,
            view: *view,
            phase: *phase,
            digest: *digest,
        };
        text.push_str(&serde_json::to_string(&entry).map_err(json)?);
        text.push('\n');
    }
    let tmp = path.with_extension("tmp");
    // Opened for appending before the rename: the handle follows the file to its new name,
    // so later entries can never go to an unlinked file.
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .truncate(false)
        .open(&tmp)
        .map_err(err)?;
    f.set_len(0).map_err(err)?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(height: Height, view: View, phase: Phase, d: u8) -> Statement {
        Statement {
            phase,
            view,
            height,
            digest: Hash([d; 32]),
        }
    }

    #[test]
    fn refuses_a_second_digest_for_a_slot_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sign_state.jsonl");
        let mut g = Guard::open(&path, "c", true).unwrap();
        assert_eq!(g.check("c", &st(5, 0, Phase::Prepare, 1)), Ok(Verdict::New));
        assert_eq!(
            g.check("c", &st(5, 0, Phase::Prepare, 1)),
            Ok(Verdict::Again)
        );
        assert!(matches!(
            g.check("c", &st(5, 0, Phase::Prepare, 2)),
            Err(SignerError::Refused(m)) if m.contains("double sign")
        ));
        // Another phase or view of the same height is another slot.
        assert_eq!(g.check("c", &st(5, 0, Phase::Commit, 1)), Ok(Verdict::New));
        assert_eq!(g.check("c", &st(5, 1, Phase::Prepare, 2)), Ok(Verdict::New));
        drop(g);
        // A crash while appending leaves a torn line: dropped, the rest holds.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"height\":5,\"vi").unwrap();
        drop(f);
        let mut g = Guard::open(&path, "c", true).unwrap();
        assert!(g.check("c", &st(5, 0, Phase::Prepare, 2)).is_err());
        assert!(g.check("c", &st(5, 1, Phase::Prepare, 1)).is_err());
        assert_eq!(
            g.check("c", &st(5, 0, Phase::Commit, 1)),
            Ok(Verdict::Again)
        );
        // Another chain's requests, or this log opened for another chain, are refused.
        assert!(g.check("d", &st(6, 0, Phase::Prepare, 1)).is_err());
        // A second signer on the same log is refused while this one holds it.
        assert!(Guard::open(&path, "c", false).is_err());
        drop(g);
        assert!(Guard::open(&path, "d", true).is_err());
        // A log that is not there is an error unless this is the first start.
        assert!(Guard::open(&dir.path().join("typo.jsonl"), "c", false).is_err());
    }

    #[test]
    fn a_complete_but_unreadable_last_line_is_corruption_not_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut g = Guard::open(&path, "c", true).unwrap();
        g.check("c", &st(1, 0, Phase::Prepare, 1)).unwrap();
        drop(g);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"height\":2,\"garbage\n").unwrap();
        drop(f);
        assert!(Guard::open(&path, "c", false).is_err());
    }

    #[test]
    fn views_per_height_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Guard::open(&dir.path().join("s.jsonl"), "c", true).unwrap();
        for v in 0..MAX_VIEWS_PER_HEIGHT as u64 {
            g.check("c", &st(9, v, Phase::ViewChange, 1)).unwrap();
        }
        assert!(g.check("c", &st(9, 10_000, Phase::ViewChange, 1)).is_err());
        // A view already there takes more phases; the next height starts afresh.
        g.check("c", &st(9, 3, Phase::Prepare, 1)).unwrap();
        g.check("c", &st(10, 10_000, Phase::ViewChange, 1)).unwrap();
    }

    #[test]
    fn old_heights_are_refused_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut g = Guard::open(&path, "c", true).unwrap();
        g.check("c", &st(1, 0, Phase::Prepare, 1)).unwrap();
        g.check("c", &st(KEEP_HEIGHTS + 10, 0, Phase::Prepare, 1))
            .unwrap();
        assert!(g.check("c", &st(2, 0, Phase::Prepare, 9)).is_err());
        drop(g);
        // Reopening compacts: height 1 is gone from the file.
        let g = Guard::open(&path, "c", true).unwrap();
        assert_eq!(g.signed.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_corrupt_log_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut g = Guard::open(&path, "c", true).unwrap();
        g.check("c", &st(1, 0, Phase::Prepare, 1)).unwrap();
        g.check("c", &st(2, 0, Phase::Prepare, 1)).unwrap();
        drop(g);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1] = "garbage";
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        assert!(Guard::open(&path, "c", true).is_err());
    }
}
