//! A user-space TCP link emulator (netem is not available on these machines).
//!
//! Every peer link of a testnet runs through a proxy of its own: node `i` reaches node `j`
//! through `proxy(i, j, …)`, so each direction of every pair of nodes is a [`Link`] with its
//! own one-way delay and jitter, and any set of links can be cut and healed (partitions of
//! any shape). Bytes keep their order (a TCP stream cannot reorder): jitter only stretches
//! gaps, and a chunk is never delivered before the one read before it.
//!
//! A cut link either **stalls** (bytes wait in the emulator, up to a bound, and flow again
//! on heal, as TCP retransmission does across a short outage: both ends see a silent
//! connection) or **resets** (its connections are closed at once and new ones refused until
//! it heals). The emulator runs on its own runtime, so synchronous tests drive it directly.
//! Delivery times are kept with a timerfd-backed timer (async-io), not tokio's
//! millisecond-tick timer, so a hop takes its delay plus a few hundred microseconds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::rng::Rng;

/// A jitter generator with a seed of its own (jitter needs spread, not secrecy).
fn fresh_rng() -> Rng {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEEDS: AtomicU64 = AtomicU64::new(0x5EED);
    Rng::new(SEEDS.fetch_add(1, Ordering::Relaxed))
}

/// How a cut link behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Bytes are held (silently) and delivered after the heal.
    Stall,
    /// Connections are closed and new ones refused until the heal.
    Reset,
}

/// One direction of a link between two nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// One-way delay added to every byte.
    pub delay: Duration,
    /// Up to this much more, drawn per chunk (order is kept).
    pub jitter: Duration,
    /// Cut, and how; `None` when the link carries bytes.
    pub cut: Option<Cut>,
    /// Bumped by every reset: connections opened under an older epoch are closed.
    epoch: u64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            cut: None,
            epoch: 0,
        }
    }
}

/// Chunks read at once from a socket.
const CHUNK: usize = 64 * 1024;
/// Chunks held per direction of a connection (delayed or stalled) before the reader stops
/// reading, so the sender feels back-pressure as from a full TCP window: 16 MiB.
const HELD_CHUNKS: usize = 256;

type Links = Arc<Mutex<BTreeMap<(usize, usize), watch::Sender<Link>>>>;

/// The emulator: proxies and the state of every link.
pub struct LinkEmulator {
    rt: tokio::runtime::Runtime,
    links: Links,
}

impl Default for LinkEmulator {
    fn default() -> Self {
        LinkEmulator::new()
    }
}

impl LinkEmulator {
    /// An emulator with no proxies yet.
    pub fn new() -> LinkEmulator {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("linkem")
            .enable_all()
            .build()
            .expect("emulator runtime");
        LinkEmulator {
            rt,
            links: Arc::default(),
        }
    }

    fn link(&self, from: usize, to: usize) -> watch::Receiver<Link> {
        self.links
            .lock()
            .unwrap()
            .entry((from, to))
            .or_insert_with(|| watch::channel(Link::default()).0)
            .subscribe()
    }

    fn update(&self, from: usize, to: usize, f: impl FnOnce(&mut Link)) {
        let _ = self.link(from, to);
        let links = self.links.lock().unwrap();
        links[&(from, to)].send_modify(f);
    }

    /// A proxy on 127.0.0.1 that `from` dials to reach `target` (node `to`): bytes towards
    /// `to` take link `(from, to)`, bytes back take `(to, from)`. Returns its address.
    pub fn proxy(&self, from: usize, to: usize, target: SocketAddr) -> SocketAddr {
        self.proxy_on(from, to, target, 0)
    }

    /// [`LinkEmulator::proxy`] listening on `port` (0: any free port). A testnet gives its
    /// proxies ports from its own reserved range: an arbitrary free port may be one a
    /// node about to start was given.
    pub fn proxy_on(&self, from: usize, to: usize, target: SocketAddr, port: u16) -> SocketAddr {
        let forth = self.link(from, to);
        let back = self.link(to, from);
        let listener = self
            .rt
            .block_on(TcpListener::bind(("127.0.0.1", port)))
            .expect("bind a proxy");
        let addr = listener.local_addr().unwrap();
        self.rt.spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(connection(inbound, target, forth.clone(), back.clone()));
            }
        });
        addr
    }

    /// Sets the one-way delay and jitter of both directions between `a` and `b`.
    pub fn set_delay(&self, a: usize, b: usize, delay: Duration, jitter: Duration) {
        for (x, y) in [(a, b), (b, a)] {
            self.update(x, y, |l| {
                l.delay = delay;
                l.jitter = jitter;
            });
        }
    }

    /// Sets the delay and jitter of every link there is.
    pub fn set_all_delays(&self, delay: Duration, jitter: Duration) {
        let keys: Vec<(usize, usize)> = self.links.lock().unwrap().keys().copied().collect();
        for (x, y) in keys {
            self.update(x, y, |l| {
                l.delay = delay;
                l.jitter = jitter;
            });
        }
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut(&self, a: usize, b: usize, how: Cut) {
        for (x, y) in [(a, b), (b, a)] {
            self.update(x, y, |l| {
                l.cut = Some(how);
                if how == Cut::Reset {
                    l.epoch += 1;
                }
            });
        }
    }

    /// Cuts one direction only (`from` can no longer reach `to`; the other way works). A
    /// reset closes whole connections, so a one-way [`Cut::Reset`] also ends the replies of
    /// the connections it closes; new connections are refused both ways until the heal.
    pub fn cut_one_way(&self, from: usize, to: usize, how: Cut) {
        self.update(from, to, |l| {
            l.cut = Some(how);
            if how == Cut::Reset {
                l.epoch += 1;
            }
        });
    }

    /// Splits nodes `0..n` into `groups`: every link between two groups is cut, links
    /// within a group are healed. A node in no group is cut off from everyone.
    pub fn partition(&self, n: usize, groups: &[Vec<usize>], how: Cut) {
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        for a in 0..n {
            for b in (a + 1)..n {
                match (group_of(a), group_of(b)) {
                    (Some(x), Some(y)) if x == y => self.heal(a, b),
                    _ => self.cut(a, b, how),
                }
            }
        }
    }

    /// Heals both directions between `a` and `b`.
    pub fn heal(&self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            self.update(x, y, |l| l.cut = None);
        }
    }

    /// Heals every link.
    pub fn heal_all(&self) {
        let keys: Vec<(usize, usize)> = self.links.lock().unwrap().keys().copied().collect();
        for (x, y) in keys {
            self.update(x, y, |l| l.cut = None);
        }
    }

    /// The current state of link `from → to`.
    pub fn state(&self, from: usize, to: usize) -> Link {
        *self.link(from, to).borrow()
    }
}

/// Carries one proxied connection until both directions are done or a reset cuts it.
async fn connection(
    inbound: TcpStream,
    target: SocketAddr,
    forth: watch::Receiver<Link>,
    back: watch::Receiver<Link>,
) {
    let (epoch_forth, epoch_back) = (forth.borrow().epoch, back.borrow().epoch);
    if forth.borrow().cut == Some(Cut::Reset) || back.borrow().cut == Some(Cut::Reset) {
        return; // refused: dropping the socket closes it
    }
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let a = direction(in_read, out_write, forth.clone());
    let b = direction(out_read, in_write, back.clone());
    // A reset of either direction closes the whole connection (both sockets drop here);
    // otherwise each direction ends on its own, after delivering what it held (a
    // half-close passes through, as in TCP).
    tokio::select! {
        _ = async { tokio::join!(a, b) } => {}
        _ = reset(forth, epoch_forth) => {}
        _ = reset(back, epoch_back) => {}
    }
}

/// Pumps one direction: a reader stamps each chunk with its delivery time, a writer holds
/// it until then (and while the link is stalled), then passes the end of stream on.
async fn direction(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: watch::Receiver<Link>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(HELD_CHUNKS);
    let reader_link = link.clone();
    let reader = async move {
        let mut last = Instant::now();
        let mut rng = fresh_rng();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return, // dropping `tx` ends the writer once it is drained
                Ok(n) => n,
            };
            let l = *reader_link.borrow();
            let jitter = if l.jitter.is_zero() {
                Duration::ZERO
            } else {
                Duration::from_nanos(rng.below(l.jitter.as_nanos() as u64 + 1))
            };
            last = (Instant::now() + l.delay + jitter).max(last);
            if tx.send((last, buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let writer = async move {
        let mut link = link;
        while let Some((at, buf)) = rx.recv().await {
            // tokio's timer rounds a deadline up to its millisecond tick (about 1.5 ms more per
            // hop, measured); async-io's timer is a timerfd, within a few hundred microseconds.
            async_io::Timer::at(at.into_std()).await;
            loop {
                let l = *link.borrow_and_update();
                if l.cut.is_none() {
                    break;
                }
                if link.changed().await.is_err() {
                    return;
                }
            }
            if to.write_all(&buf).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    // Resets are watched by the connection; here both halves run to their end.
    tokio::join!(reader, writer);
}

/// Resolves when the link is reset (its epoch moves past `epoch`).
async fn reset(mut link: watch::Receiver<Link>, epoch: u64) {
    loop {
        if link.borrow_and_update().epoch != epoch {
            return;
        }
        if link.changed().await.is_err() {
            // The emulator is gone: leave the connection as it is.
            std::future::pending::<()>().await;
        }
    }
}
