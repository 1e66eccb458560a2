//! `phalanx start --state-sync`: join from a state snapshot served by peers instead of
//! replaying every block since genesis.
//!
//! 1. **Choose.** Every connected peer is asked which snapshots it serves; the newest that
//!    f+1 peers offer alike (f from the genesis validator set) is chosen, so at least one
//!    honest node vouches for it. Nothing rests on that vote alone:
//! 2. **Certify.** The snapshot's header (its block, commit certificate and the proofs of
//!    every validator-set change) is checked from genesis, as `phalanx verify` does.
//! 3. **Fetch.** Chunks come from every peer serving the snapshot, one at a time from each
//!    (a server answers one part per peer), and each is checked on its own against the
//!    certified state root before it is kept. A peer that sends a bad chunk or header is
//!    avoided for the rest of the sync; the chunk is fetched elsewhere.
//! 4. **Install.** With every chunk in, the tree is rebuilt, its root compared, and the
//!    state written ([`crate::snapfile::install`]); the node then block-syncs from the
//!    snapshot's height and joins consensus.
//!
//! Verified chunks are kept under `statesync/` in the home until the install ends, so a
//! sync killed at any moment resumes where it was (each chunk is checked again on reading).
//! Progress shows on the terminal (a progress bar when stderr is one, log lines always) and
//! in the `phalanx_statesync_*` metrics, served on the RPC address meanwhile.

use crate::home::Home;
use crate::snapfile::{self, FileHeader};
use anyhow::{Context, Result, bail};
use libp2p::PeerId;
use phalanx_genesis::Genesis;
use phalanx_network::Network;
use phalanx_network::wire::{PartAnswer, Request, Response, SnapshotOffer, SnapshotPart};
use phalanx_rpc::metrics::Metrics;
use phalanx_storage::snapshot::Manifest;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Pause between rounds of asking peers for snapshots while none qualifies.
const DISCOVER_EVERY: Duration = Duration::from_secs(2);
/// Wait before asking a peer again after it was busy or failed to answer.
const BUSY_PAUSE: Duration = Duration::from_millis(300);
/// How often, while fetching, peers are asked again which snapshots they serve.
const REFRESH_SERVERS: Duration = Duration::from_secs(5);
/// Longest wait for a peer's list of snapshots.
const OFFERS_TIMEOUT: Duration = Duration::from_secs(3);
/// Chunk requests in flight at once, over all peers (one per peer): bounds what arrives at
/// once on this node's link within the request timeout.
const MAX_INFLIGHT: usize = 4;
/// A snapshot is given up (and another chosen) when fewer than f+1 peers have served it
/// for this long, or when no chunk has verified for [`STALLED`].
const UNDERSERVED: Duration = Duration::from_secs(30);
/// See [`UNDERSERVED`].
const STALLED: Duration = Duration::from_secs(60);

const HEADER_FILE: &str = "header";

/// What a home's data directory holds.
#[derive(Debug, PartialEq, Eq)]
enum Data {
    /// Nothing (or a store never initialized).
    Empty,
    /// An install (of a state sync or a file) that did not finish.
    Installing,
    /// A chain.
    Chain,
}

fn data_state(home: &Home) -> Result<Data> {
    let data = home.data();
    if !data.join("CURRENT").exists() {
        return Ok(Data::Empty);
    }
    let kv = phalanx_storage::RocksStore::open_read_only(&data)
        .with_context(|| format!("cannot open the database in {}", data.display()))?;
    use phalanx_storage::KvStore;
    let meta = phalanx_storage::Column::Meta;
    Ok(if kv.get(meta, crate::node::IMPORTING_KEY)?.is_some() {
        Data::Installing
    } else if kv.get(meta, crate::node::GENESIS_HASH_KEY)?.is_some() {
        Data::Chain
    } else {
        Data::Empty
    })
}

/// True when `home` should state-sync: its database is empty (never started), or a state
/// sync there has not finished. A sync's leftovers beside a whole chain (a crash after the
/// install's last write, or a sync given up for a plain start) are removed.
pub fn wanted(home: &Home) -> Result<bool> {
    let header = home.statesync().join(HEADER_FILE);
    match data_state(home)? {
        Data::Empty => Ok(true),
        Data::Installing => Ok(header.exists()),
        Data::Chain => {
            if home.statesync().exists() {
                remove_staging(home)?;
                tracing::info!("removed the leftovers of an earlier state sync");
            }
            Ok(false)
        }
    }
}

/// Removes the staging directory, its header first: a crash part way leaves chunks without
/// a header, which a later sync ignores and overwrites.
fn remove_staging(home: &Home) -> Result<()> {
    let dir = home.statesync();
    match std::fs::remove_file(dir.join(HEADER_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))
}

/// How a fetched chunk turned out.
enum Fetched {
    /// Verified; its encoding.
    Good(Vec<u8>),
    /// Busy, not served or no answer: ask again later.
    Retry,
    /// The peer does not serve this snapshot (any more).
    Missing,
    /// The peer sent something that does not prove: avoid it.
    Bad(String),
}

/// How a snapshot's header request went.
enum Certified {
    /// Checked from genesis; with its encoding.
    Yes(Box<FileHeader>, Vec<u8>),
    /// No peer sent one now (busy, timeouts): try again later.
    Unavailable,
    /// Every peer that sent one sent one that does not check.
    Refused,
}

/// How fetching ended.
enum Fetch {
    /// Every chunk is in.
    Done,
    /// The snapshot cannot be finished from the peers now: choose another.
    GiveUp,
}

/// Who offers which snapshot.
type Offers = BTreeMap<SnapshotOffer, BTreeSet<PeerId>>;

/// Every snapshot offered by connected peers not in `bad`, with who offers it (each peer
/// given [`OFFERS_TIMEOUT`] to answer).
async fn offers_of(net: Network, bad: BTreeSet<PeerId>) -> Offers {
    let mut asks = JoinSet::new();
    for peer in net.peers() {
        if bad.contains(&peer) {
            continue;
        }
        let net = net.clone();
        asks.spawn(async move {
            let answer = tokio::time::timeout(OFFERS_TIMEOUT, net.ask(peer, Request::Snapshots))
                .await
                .ok()
                .flatten();
            (peer, answer)
        });
    }
    let mut offers = Offers::new();
    while let Some(Ok((peer, answer))) = asks.join_next().await {
        if let Some(Response::Snapshots(list)) = answer {
            for offer in list {
                offers.entry(offer).or_default().insert(peer);
            }
        }
    }
    offers
}

/// The state sync of one home.
pub struct StateSync<'a> {
    /// The running network (dialing the configured peers).
    pub net: Network,
    /// The home to fill.
    pub home: &'a Home,
    /// Its genesis: the only trusted input.
    pub genesis: &'a Genesis,
    /// Where progress is reported.
    pub metrics: Arc<Metrics>,
}

impl StateSync<'_> {
    /// Distinct peers (validators or observers) that must offer a snapshot alike before it
    /// is chosen: f+1 of the genesis validator set.
    fn quorum(&self) -> usize {
        let n = self.genesis.validators.len().max(1);
        (n - 1) / 3 + 1
    }

    /// Runs the sync to the end: on return the home's database holds the snapshot's state.
    pub async fn run(&self) -> Result<()> {
        let dir = self.home.statesync();
        let mut bad: BTreeSet<PeerId> = BTreeSet::new();
        let mut given_up: BTreeSet<SnapshotOffer> = BTreeSet::new();
        loop {
            std::fs::create_dir_all(dir.join("chunks"))
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let header = self.choose(&mut bad, &given_up).await?;
            let m = header.manifest.clone();
            self.metrics.statesync_height.set(m.height as i64);
            self.metrics.statesync_chunks.set(i64::from(m.chunks()));
            let have = load_chunks(&dir, &m).await?;
            if !have.is_empty() {
                tracing::info!(
                    height = m.height,
                    verified = have.len(),
                    chunks = m.chunks(),
                    "resuming state sync: chunks already fetched and verified"
                );
            }
            if let Fetch::GiveUp = self.fetch(&m, have, &mut bad).await? {
                tracing::warn!(
                    height = m.height,
                    "state sync: the peers no longer serve this snapshot; choosing another"
                );
                given_up.insert(snapfile::offer_of(&m));
                self.discard()?;
                continue;
            }
            let (home, genesis) = (self.home.clone(), self.genesis.clone());
            let dir2 = dir.clone();
            tokio::task::spawn_blocking(move || install(&home, &genesis, &header, &dir2))
                .await
                .context("installing the snapshot panicked")??;
            remove_staging(self.home)?;
            tracing::info!(
                height = m.height,
                keys = m.keys,
                state_root = %m.state_root,
                "state sync done; syncing the blocks after the snapshot"
            );
            return Ok(());
        }
    }

    /// Drops the staged snapshot, and a half-finished install of it.
    fn discard(&self) -> Result<()> {
        if data_state(self.home)? == Data::Installing {
            let data = self.home.data();
            std::fs::remove_dir_all(&data)
                .with_context(|| format!("cannot remove {}", data.display()))?;
        }
        remove_staging(self.home)
    }

    /// The snapshot to fetch, with its header verified from genesis: the one a sync that
    /// did not finish chose, if all its chunks are here or f+1 peers still serve it, else
    /// the newest that f+1 peers offer and one of them certifies.
    async fn choose(
        &self,
        bad: &mut BTreeSet<PeerId>,
        given_up: &BTreeSet<SnapshotOffer>,
    ) -> Result<FileHeader> {
        let dir = self.home.statesync();
        let mut resume = match std::fs::read(dir.join(HEADER_FILE)) {
            Ok(bytes) => {
                let header = snapfile::decode_header(&bytes)
                    .and_then(|h| snapfile::verify_header(&h, self.genesis).map(|()| h));
                match header {
                    Ok(h) if !given_up.contains(&snapfile::offer_of(&h.manifest)) => Some(h),
                    _ => {
                        self.discard()?;
                        std::fs::create_dir_all(dir.join("chunks"))?;
                        None
                    }
                }
            }
            Err(_) => None,
        };
        if let Some(h) = &resume {
            let have = load_chunks(&dir, &h.manifest).await?;
            if have.len() == h.manifest.chunks() as usize {
                return Ok(h.clone());
            }
        }
        let quorum = self.quorum();
        let mut refused: BTreeSet<SnapshotOffer> = BTreeSet::new();
        let mut noted: Option<Instant> = None;
        loop {
            let offers = offers_of(self.net.clone(), bad.clone()).await;
            if let Some(h) = &resume
                && offers
                    .get(&snapfile::offer_of(&h.manifest))
                    .is_some_and(|p| p.len() >= quorum)
            {
                return Ok(h.clone());
            }
            let mut candidates: Vec<(&SnapshotOffer, &BTreeSet<PeerId>)> = offers
                .iter()
                .filter(|(o, peers)| {
                    peers.len() >= quorum && !refused.contains(*o) && !given_up.contains(*o)
                })
                .filter(|(o, _)| resume.as_ref().is_none_or(|h| o.height > h.manifest.height))
                .collect();
            // Newest first: an offer whose header never comes costs one try a round.
            candidates.sort_by_key(|(o, peers)| std::cmp::Reverse((o.height, peers.len())));
            for (offer, peers) in candidates {
                match self.certify(offer, peers, bad).await {
                    Certified::Yes(header, bytes) => {
                        if let Some(old) = resume.take() {
                            tracing::warn!(
                                height = old.manifest.height,
                                newer = offer.height,
                                "fewer than f+1 peers serve the snapshot of the unfinished sync; starting over with a newer one"
                            );
                            self.discard()?;
                            std::fs::create_dir_all(dir.join("chunks"))?;
                        }
                        write_atomic(&dir.join(HEADER_FILE), &bytes)?;
                        tracing::info!(
                            height = offer.height,
                            chunks = header.manifest.chunks(),
                            keys = offer.keys,
                            peers = peers.len(),
                            "state sync: chose a snapshot"
                        );
                        return Ok(*header);
                    }
                    Certified::Unavailable => {}
                    Certified::Refused => {
                        refused.insert(offer.clone());
                    }
                }
            }
            if noted.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                noted = Some(Instant::now());
                tracing::info!(
                    connected = self.net.peers().len(),
                    needed = quorum,
                    offered = offers.len(),
                    "state sync: waiting for {quorum} peers to offer the same snapshot"
                );
            }
            tokio::time::sleep(DISCOVER_EVERY).await;
        }
    }

    /// Fetches the offer's header from one of `peers` and checks it from genesis; peers
    /// whose header does not check are added to `bad`.
    async fn certify(
        &self,
        offer: &SnapshotOffer,
        peers: &BTreeSet<PeerId>,
        bad: &mut BTreeSet<PeerId>,
    ) -> Certified {
        let mut answered = false;
        for peer in peers {
            if bad.contains(peer) {
                continue;
            }
            let ask = Request::SnapshotPart {
                height: offer.height,
                part: SnapshotPart::Header,
            };
            let bytes = match self.net.ask(*peer, ask).await {
                Some(Response::SnapshotPart(PartAnswer::Bytes(b)))
                    if b.len() as u64 <= snapfile::MAX_HEADER_BYTES =>
                {
                    b
                }
                Some(Response::SnapshotPart(PartAnswer::Busy | PartAnswer::Missing)) | None => {
                    continue;
                }
                Some(_) => Vec::new(), // refused below as undecodable
            };
            answered = true;
            let checked = snapfile::decode_header(&bytes).and_then(|h| {
                if h.manifest != snapfile::manifest_of(offer) {
                    bail!("its header describes another snapshot than it offers");
                }
                snapfile::verify_header(&h, self.genesis)?;
                Ok(h)
            });
            match checked {
                Ok(h) => return Certified::Yes(Box::new(h), bytes),
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "a peer offered a snapshot that does not check; avoiding it");
                    self.metrics.statesync_bad_chunks.inc();
                    bad.insert(*peer);
                }
            }
        }
        if answered && peers.iter().all(|p| bad.contains(p)) {
            Certified::Refused
        } else {
            Certified::Unavailable
        }
    }

    /// Fetches every chunk not in `have`, verifying each, from the peers serving `m`.
    async fn fetch(
        &self,
        m: &Manifest,
        have: BTreeSet<u32>,
        bad: &mut BTreeSet<PeerId>,
    ) -> Result<Fetch> {
        let dir = self.home.statesync().join("chunks");
        let total = m.chunks();
        let mut todo: VecDeque<u32> = (0..total).filter(|i| !have.contains(i)).collect();
        let mut done = have.len() as u64;
        let bar = progress_bar(total as u64, m.height);
        bar.set_position(done);
        self.metrics.statesync_chunks_done.set(done as i64);
        let offer = snapfile::offer_of(m);
        let quorum = self.quorum();
        let mut servers: BTreeSet<PeerId> = BTreeSet::new();
        // Peers with a request in flight, and peers resting until an instant.
        let mut asking: BTreeSet<PeerId> = BTreeSet::new();
        let mut resting: BTreeMap<PeerId, Instant> = BTreeMap::new();
        // Which peers serve the snapshot is asked again in the background.
        let mut refresh: Option<tokio::task::JoinHandle<Offers>> =
            Some(tokio::spawn(offers_of(self.net.clone(), bad.clone())));
        let mut refreshed = Instant::now();
        let mut underserved: Option<Instant> = None;
        let mut progressed = Instant::now();
        let mut inflight: JoinSet<(PeerId, u32, Fetched)> = JoinSet::new();
        let started = Instant::now();
        let mut reported = 0u64;
        while !todo.is_empty() || !inflight.is_empty() {
            if refresh.is_none() && refreshed.elapsed() >= REFRESH_SERVERS {
                refresh = Some(tokio::spawn(offers_of(self.net.clone(), bad.clone())));
            }
            if underserved.is_some_and(|t| t.elapsed() >= UNDERSERVED)
                || progressed.elapsed() >= STALLED
            {
                inflight.abort_all();
                bar.finish_and_clear();
                return Ok(Fetch::GiveUp);
            }
            let now = Instant::now();
            for peer in servers.iter() {
                if todo.is_empty() || inflight.len() >= MAX_INFLIGHT {
                    break;
                }
                if asking.contains(peer) || resting.get(peer).is_some_and(|t| *t > now) {
                    continue;
                }
                let Some(index) = todo.pop_front() else { break };
                asking.insert(*peer);
                let (net, peer, m) = (self.net.clone(), *peer, m.clone());
                inflight.spawn(async move {
                    let fetched = fetch_chunk(&net, peer, &m, index).await;
                    (peer, index, fetched)
                });
            }
            let next = tokio::select! {
                n = inflight.join_next(), if !inflight.is_empty() => n,
                r = async { refresh.as_mut().expect("guarded").await }, if refresh.is_some() => {
                    refresh = None;
                    refreshed = Instant::now();
                    let mut now_serving = r.ok().and_then(|mut o| o.remove(&offer)).unwrap_or_default();
                    now_serving.retain(|p| !bad.contains(p));
                    if now_serving.len() >= quorum {
                        underserved = None;
                    } else {
                        underserved.get_or_insert_with(Instant::now);
                        if now_serving.is_empty() {
                            tracing::info!(height = m.height, "state sync: no peer serves the snapshot now; waiting");
                        }
                    }
                    servers = now_serving;
                    None
                }
                _ = tokio::time::sleep(BUSY_PAUSE) => None,
            };
            let Some(joined) = next else { continue };
            let (peer, index, fetched) = joined.context("a chunk fetch panicked")?;
            asking.remove(&peer);
            match fetched {
                Fetched::Good(bytes) => {
                    write_atomic(&dir.join(index.to_string()), &bytes)?;
                    done += 1;
                    progressed = Instant::now();
                    bar.set_position(done);
                    self.metrics.statesync_chunks_done.set(done as i64);
                    if done * 10 / total as u64 > reported * 10 / total as u64
                        || done == total as u64
                    {
                        reported = done;
                        tracing::info!(
                            height = m.height,
                            done,
                            chunks = total,
                            secs = started.elapsed().as_secs(),
                            "state sync progress"
                        );
                    }
                }
                Fetched::Retry => {
                    todo.push_back(index);
                    resting.insert(peer, Instant::now() + BUSY_PAUSE);
                }
                Fetched::Missing => {
                    todo.push_back(index);
                    servers.remove(&peer);
                }
                Fetched::Bad(why) => {
                    todo.push_front(index);
                    tracing::warn!(%peer, chunk = index, reason = %why, "a peer served a bad snapshot chunk; avoiding it");
                    self.metrics.statesync_bad_chunks.inc();
                    bad.insert(peer);
                    servers.remove(&peer);
                }
            }
        }
        if let Some(r) = refresh {
            r.abort();
        }
        bar.finish_and_clear();
        Ok(Fetch::Done)
    }
}

/// Asks `peer` for chunk `index` of `m` and checks it against the certified root.
async fn fetch_chunk(net: &Network, peer: PeerId, m: &Manifest, index: u32) -> Fetched {
    let ask = Request::SnapshotPart {
        height: m.height,
        part: SnapshotPart::Chunk(index),
    };
    let bytes = match net.ask(peer, ask).await {
        Some(Response::SnapshotPart(PartAnswer::Bytes(b))) => b,
        Some(Response::SnapshotPart(PartAnswer::Missing)) => return Fetched::Missing,
        Some(Response::SnapshotPart(PartAnswer::Busy)) | None => return Fetched::Retry,
        Some(_) => return Fetched::Bad("an answer of another kind".into()),
    };
    let m = m.clone();
    let checked = tokio::task::spawn_blocking(move || {
        snapfile::check_chunk(&m, index, &bytes).map(|_| bytes)
    })
    .await;
    match checked {
        Ok(Ok(bytes)) => Fetched::Good(bytes),
        Ok(Err(e)) => Fetched::Bad(e.to_string()),
        Err(e) => Fetched::Bad(format!("checking it failed: {e}")),
    }
}

/// The chunks kept by an earlier run that still verify (others are deleted).
async fn load_chunks(dir: &Path, m: &Manifest) -> Result<BTreeSet<u32>> {
    let dir = dir.join("chunks");
    let m = m.clone();
    tokio::task::spawn_blocking(move || {
        let mut have = BTreeSet::new();
        for index in 0..m.chunks() {
            let path = dir.join(index.to_string());
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            match snapfile::check_chunk(&m, index, &bytes) {
                Ok(_) => {
                    have.insert(index);
                }
                Err(e) => {
                    tracing::warn!(chunk = index, error = %e, "a kept chunk does not verify; fetching it again");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(have)
    })
    .await?
}

/// Reads every kept chunk (checking each again) and installs the state.
fn install(home: &Home, genesis: &Genesis, header: &FileHeader, dir: &Path) -> Result<()> {
    let m = &header.manifest;
    let mut entries = Vec::with_capacity(m.keys.min(1_000_000) as usize);
    for index in 0..m.chunks() {
        let path = dir.join("chunks").join(index.to_string());
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        entries.extend(snapfile::check_chunk(m, index, &bytes)?.entries);
    }
    snapfile::install(home, genesis, header, entries)
}

/// Writes `bytes` to `path` whole or not at all (a temporary file, synced, then renamed).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A progress bar on stderr (drawn only when stderr is a terminal).
fn progress_bar(chunks: u64, height: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(chunks);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {pos}/{len} chunks, {elapsed}, eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("state sync to height {height}"));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_storage::{Column, KvStore, RocksStore};

    fn home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home(dir.path().to_path_buf());
        (dir, home)
    }

    fn stage(home: &Home) {
        std::fs::create_dir_all(home.statesync().join("chunks")).unwrap();
        std::fs::write(home.statesync().join(HEADER_FILE), b"h").unwrap();
        std::fs::write(home.statesync().join("chunks/0"), b"c").unwrap();
    }

    #[test]
    fn only_an_empty_or_half_installed_home_state_syncs() {
        // Empty: yes.
        let (_d, h) = home();
        assert!(wanted(&h).unwrap());
        // A store created but never initialized counts as empty.
        drop(RocksStore::open(h.data()).unwrap());
        assert!(wanted(&h).unwrap());

        // Half installed by a state sync: resume.
        let (_d, h) = home();
        stage(&h);
        RocksStore::open(h.data())
            .unwrap()
            .put(Column::Meta, crate::node::IMPORTING_KEY, b"x")
            .unwrap();
        assert!(wanted(&h).unwrap());
        // Half installed by a file import (no staged sync): not a state sync's to finish.
        std::fs::remove_dir_all(h.statesync()).unwrap();
        assert!(!wanted(&h).unwrap());

        // A chain with a sync's leftovers (a crash after the install's last write, or a
        // sync given up for a plain start): no sync, and the leftovers go.
        let (_d, h) = home();
        stage(&h);
        RocksStore::open(h.data())
            .unwrap()
            .put(Column::Meta, crate::node::GENESIS_HASH_KEY, b"g")
            .unwrap();
        assert!(!wanted(&h).unwrap());
        assert!(!h.statesync().exists());
    }
}
