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
use phalanx_storage::snapshot::{self, Chunk, Manifest};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Pause between rounds of asking peers for snapshots while none qualifies.
const DISCOVER_EVERY: Duration = Duration::from_secs(2);
/// Wait before asking a peer again after it was busy or failed to answer.
const BUSY_PAUSE: Duration = Duration::from_millis(300);
/// How often, while fetching, other peers are asked whether they serve the snapshot too.
const REFRESH_SERVERS: Duration = Duration::from_secs(5);

/// True when `home` should state-sync: its database is empty (never started), or a state
/// sync there has not finished.
pub fn wanted(home: &Home) -> Result<bool> {
    if home.statesync().join(HEADER_FILE).exists() {
        return Ok(true);
    }
    let data = home.data();
    match std::fs::read_dir(&data) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", data.display())),
    }
}

const HEADER_FILE: &str = "header";

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
    /// Peers offering the same snapshot needed to choose it: f+1 of the genesis set.
    fn quorum(&self) -> usize {
        let n = self.genesis.validators.len().max(1);
        (n - 1) / 3 + 1
    }

    /// Runs the sync to the end: on return the home's database holds the snapshot's state.
    pub async fn run(&self) -> Result<()> {
        let dir = self.home.statesync();
        std::fs::create_dir_all(dir.join("chunks"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut bad: BTreeSet<PeerId> = BTreeSet::new();
        let header = self.choose(&mut bad).await?;
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
        self.fetch(&m, have, &mut bad).await?;
        let (home, genesis) = (self.home.clone(), self.genesis.clone());
        let header2 = header.clone();
        let dir2 = dir.clone();
        tokio::task::spawn_blocking(move || install(&home, &genesis, &header2, &dir2))
            .await
            .context("installing the snapshot panicked")??;
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        tracing::info!(
            height = m.height,
            keys = m.keys,
            state_root = %m.state_root,
            "state sync done; syncing the blocks after the snapshot"
        );
        Ok(())
    }

    /// The snapshot to fetch, with its header verified from genesis: the one a sync that
    /// did not finish chose if a peer still serves it, else the newest f+1 peers offer.
    async fn choose(&self, bad: &mut BTreeSet<PeerId>) -> Result<FileHeader> {
        let dir = self.home.statesync();
        let mut resume = match std::fs::read(dir.join(HEADER_FILE)) {
            Ok(bytes) => {
                let header = snapfile::decode_header(&bytes)?;
                snapfile::verify_header(&header, self.genesis)?;
                Some(header)
            }
            Err(_) => None,
        };
        let mut refused: BTreeSet<SnapshotOffer> = BTreeSet::new();
        let mut last_note = Instant::now() - Duration::from_secs(60);
        loop {
            let offers = self.offers(bad).await;
            if let Some(header) = &resume {
                let mine = snapfile::offer_of(&header.manifest);
                if offers.get(&mine).is_some_and(|p| !p.is_empty()) {
                    return Ok(header.clone());
                }
                // Nobody serves it any more: start again with a newer one.
                if offers.keys().any(|o| o.height > mine.height) {
                    tracing::warn!(
                        height = mine.height,
                        "no peer serves the snapshot of the unfinished sync any more; starting over"
                    );
                    std::fs::remove_dir_all(&dir)?;
                    std::fs::create_dir_all(dir.join("chunks"))?;
                    resume = None;
                }
            }
            let quorum = self.quorum();
            let chosen = offers
                .iter()
                .filter(|(o, peers)| peers.len() >= quorum && !refused.contains(*o))
                .max_by_key(|(o, peers)| (o.height, peers.len()))
                .map(|(o, peers)| (o.clone(), peers.clone()));
            if let Some((offer, peers)) = chosen
                && resume.is_none()
            {
                match self.certify(&offer, &peers, bad).await {
                    Some((header, bytes)) => {
                        write_atomic(&dir.join(HEADER_FILE), &bytes)?;
                        tracing::info!(
                            height = offer.height,
                            chunks = header.manifest.chunks(),
                            keys = offer.keys,
                            peers = peers.len(),
                            "state sync: chose a snapshot"
                        );
                        return Ok(header);
                    }
                    None => {
                        refused.insert(offer);
                        continue;
                    }
                }
            }
            if last_note.elapsed() >= Duration::from_secs(10) {
                last_note = Instant::now();
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

    /// Every snapshot offered by connected peers not known bad, with who offers it.
    async fn offers(&self, bad: &BTreeSet<PeerId>) -> BTreeMap<SnapshotOffer, BTreeSet<PeerId>> {
        let mut asks = JoinSet::new();
        for peer in self.net.peers() {
            if bad.contains(&peer) {
                continue;
            }
            let net = self.net.clone();
            asks.spawn(async move { (peer, net.ask(peer, Request::Snapshots).await) });
        }
        let mut offers: BTreeMap<SnapshotOffer, BTreeSet<PeerId>> = BTreeMap::new();
        while let Some(Ok((peer, answer))) = asks.join_next().await {
            if let Some(Response::Snapshots(list)) = answer {
                for offer in list {
                    offers.entry(offer).or_default().insert(peer);
                }
            }
        }
        offers
    }

    /// Fetches the offer's header from one of `peers` and checks it from genesis; peers
    /// whose header does not check are added to `bad`.
    async fn certify(
        &self,
        offer: &SnapshotOffer,
        peers: &BTreeSet<PeerId>,
        bad: &mut BTreeSet<PeerId>,
    ) -> Option<(FileHeader, Vec<u8>)> {
        for peer in peers {
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
                _ => continue,
            };
            let checked = snapfile::decode_header(&bytes).and_then(|h| {
                if h.manifest != snapfile::manifest_of(offer) {
                    bail!("its header describes another snapshot than it offers");
                }
                snapfile::verify_header(&h, self.genesis)?;
                Ok(h)
            });
            match checked {
                Ok(h) => return Some((h, bytes)),
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "a peer offered a snapshot that does not check; avoiding it");
                    self.metrics.statesync_bad_chunks.inc();
                    bad.insert(*peer);
                }
            }
        }
        None
    }

    /// Fetches every chunk not in `have`, verifying each, from the peers serving `m`.
    async fn fetch(
        &self,
        m: &Manifest,
        have: BTreeSet<u32>,
        bad: &mut BTreeSet<PeerId>,
    ) -> Result<()> {
        let dir = self.home.statesync().join("chunks");
        let total = m.chunks();
        let mut todo: VecDeque<u32> = (0..total).filter(|i| !have.contains(i)).collect();
        let mut done = have.len() as u64;
        let bar = progress_bar(total as u64, m.height);
        bar.set_position(done);
        self.metrics.statesync_chunks_done.set(done as i64);
        let offer = snapfile::offer_of(m);
        let mut servers: BTreeSet<PeerId> = BTreeSet::new();
        // Peers with a request in flight, and peers resting until an instant.
        let mut asking: BTreeSet<PeerId> = BTreeSet::new();
        let mut resting: BTreeMap<PeerId, Instant> = BTreeMap::new();
        let mut refreshed = Instant::now() - REFRESH_SERVERS;
        let mut inflight: JoinSet<(PeerId, u32, Fetched)> = JoinSet::new();
        let started = Instant::now();
        let mut reported = 0u64;
        while !todo.is_empty() || !inflight.is_empty() {
            if refreshed.elapsed() >= REFRESH_SERVERS || (servers.is_empty() && inflight.is_empty())
            {
                refreshed = Instant::now();
                let offers = self.offers(bad).await;
                servers = offers.get(&offer).cloned().unwrap_or_default();
                servers.retain(|p| !bad.contains(p));
                if servers.is_empty() && inflight.is_empty() {
                    tracing::info!(
                        height = m.height,
                        "state sync: no peer serves the snapshot now; waiting"
                    );
                    tokio::time::sleep(DISCOVER_EVERY).await;
                    continue;
                }
            }
            let now = Instant::now();
            for peer in servers.iter() {
                if todo.is_empty() {
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
                _ = tokio::time::sleep(BUSY_PAUSE) => None,
            };
            let Some(joined) = next else { continue };
            let (peer, index, fetched) = joined.context("a chunk fetch panicked")?;
            asking.remove(&peer);
            match fetched {
                Fetched::Good(bytes) => {
                    write_atomic(&dir.join(index.to_string()), &bytes)?;
                    done += 1;
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
        bar.finish_and_clear();
        Ok(())
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
    let checked =
        tokio::task::spawn_blocking(move || check_chunk(&m, index, &bytes).map(|_| bytes)).await;
    match checked {
        Ok(Ok(bytes)) => Fetched::Good(bytes),
        Ok(Err(e)) => Fetched::Bad(e.to_string()),
        Err(e) => Fetched::Bad(format!("checking it failed: {e}")),
    }
}

/// Decodes chunk `index` of `m` and checks its proof.
fn check_chunk(m: &Manifest, index: u32, bytes: &[u8]) -> Result<Chunk> {
    if bytes.len() > snapshot::MAX_CHUNK_BYTES {
        bail!("chunk {index} is {} bytes", bytes.len());
    }
    let chunk = snapshot::decode_chunk(bytes)?;
    if chunk.index != index {
        bail!("chunk {} sent for chunk {index}", chunk.index);
    }
    snapshot::verify_chunk(m, &chunk)?;
    Ok(chunk)
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
            match check_chunk(&m, index, &bytes) {
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
    let mut entries = Vec::with_capacity(m.keys.min(10_000_000) as usize);
    for index in 0..m.chunks() {
        let path = dir.join("chunks").join(index.to_string());
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        entries.extend(check_chunk(m, index, &bytes)?.entries);
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
