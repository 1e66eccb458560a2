//! `phalanx signer`: holds the validator key and signs for one node, behind the guard.

use crate::guard::{Guard, Verdict};
use crate::{BehaviourEvent, PROTOCOL, Request, Response, SignerError, read_frame, write_frame};
use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, connection_limits, identity, ping};
use phalanx_types::SecretKey;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a node has to send its request on a new stream.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the signer runs with.
#[derive(Debug)]
pub struct SignerConfig {
    /// The validator key it signs with.
    pub key: SecretKey,
    /// Its own libp2p identity (what the node's `signer.address` names after `/p2p/`).
    pub identity: identity::Keypair,
    /// Where it listens.
    pub listen: Multiaddr,
    /// The one node it signs for (its peer id: the node key's).
    pub node: PeerId,
    /// The chain it signs for.
    pub chain_id: String,
    /// The guard's log.
    pub state: PathBuf,
    /// Start an empty log if there is none (the signer's first start only).
    pub new_state: bool,
}

/// Connections one node may hold at once (a restarted node reconnects before its old,
/// dead connection is found out).
const MAX_PER_NODE: u32 = 8;
/// Handshakes in progress from anyone (they time out after 10 s); put the signer's port
/// behind a firewall that admits only the node.
const MAX_PENDING: u32 = 64;

/// Serves until `shutdown` resolves. Only `config.node` gets through the handshake; its
/// requests are answered one at a time, each new signature synced to the guard's log first.
pub async fn serve(
    config: SignerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), SignerError> {
    let guard = Arc::new(Mutex::new(Guard::open(
        &config.state,
        &config.chain_id,
        config.new_state,
    )?));
    let transport = |e: &dyn std::fmt::Display| SignerError::Transport(e.to_string());
    let node = config.node;
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established_per_peer(Some(MAX_PER_NODE))
        .with_max_pending_incoming(Some(MAX_PENDING));
    let mut swarm = crate::swarm(config.identity.clone(), node, limits)?;
    swarm
        .listen_on(config.listen.clone())
        .map_err(|e| transport(&e))?;
    let mut incoming = swarm
        .behaviour()
        .streams
        .new_control()
        .accept(PROTOCOL)
        .map_err(|e| transport(&e))?;
    let key = Arc::new(config.key);
    let chain_id = config.chain_id.clone();
    tracing::info!(
        validator = %key.address(),
        chain_id,
        %node,
        peer_id = %swarm.local_peer_id(),
        "remote signer starting"
    );
    let answers = tokio::spawn(async move {
        while let Some((peer, mut stream)) = incoming.next().await {
            let (guard, key) = (guard.clone(), key.clone());
            tokio::spawn(async move {
                if let Err(e) = answer(&mut stream, guard, key).await {
                    tracing::debug!(%peer, error = %e, "signer request failed");
                }
            });
        }
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    tracing::info!(%address, "signer listening");
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    tracing::info!(%peer_id, "node connected");
                }
                SwarmEvent::ConnectionClosed { peer_id, .. } => {
                    tracing::info!(%peer_id, "node disconnected");
                }
                SwarmEvent::IncomingConnectionError { error, .. } => {
                    tracing::debug!(%error, "refused a connection");
                }
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                    peer,
                    connection,
                    result: Err(error),
                })) => {
                    tracing::info!(%peer, %error, "closing a connection that stopped answering pings");
                    swarm.close_connection(connection);
                }
                _ => {}
            },
        }
    }
    answers.abort();
    Ok(())
}

/// Reads one request from `stream` and answers it.
async fn answer(
    stream: &mut libp2p::Stream,
    guard: Arc<Mutex<Guard>>,
    key: Arc<SecretKey>,
) -> Result<(), SignerError> {
    let request: Request = tokio::time::timeout(REQUEST_TIMEOUT, read_frame(stream))
        .await
        .map_err(|_| SignerError::Unreachable("no request in time".into()))??;
    let response = match request {
        Request::PublicKey => Response::PublicKey(key.public_key()),
        Request::Sign {
            chain_id,
            statement,
        } => {
            let (height, view, phase) = (statement.height, statement.view, statement.phase);
            let decided = tokio::task::spawn_blocking(move || {
                let mut guard = guard.lock().unwrap_or_else(|e| e.into_inner());
                guard
                    .check(&chain_id, &statement)
                    .map(|verdict| (verdict, statement.signing_hash(&chain_id)))
            })
            .await
            .map_err(|e| SignerError::State(e.to_string()))?;
            match decided {
                Ok((verdict, hash)) => {
                    tracing::debug!(
                        height,
                        view,
                        ?phase,
                        again = verdict == Verdict::Again,
                        "signed"
                    );
                    Response::Signature(key.sign(&hash.0))
                }
                Err(SignerError::Refused(why)) => {
                    tracing::warn!(height, view, ?phase, %why, "refused to sign");
                    Response::Refused(why)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot record a signature; refusing to sign");
                    Response::Refused(e.to_string())
                }
            }
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, write_frame(stream, &response))
        .await
        .map_err(|_| SignerError::Unreachable("the answer was not taken in time".into()))?
}
