//! The node's side: a [`StatementSigner`] that asks a remote signer, over a libp2p
//! connection that only that signer's identity can answer.

use crate::{
    Behaviour, BehaviourEvent, PROTOCOL, Request, Response, SignerError, read_frame, write_frame,
};
use futures::StreamExt;
use libp2p::connection_limits::ConnectionLimits;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, identity, ping};
use phalanx_consensus::{SignError, StatementSigner};
use phalanx_types::consensus::Statement;
use phalanx_types::{PublicKey, Signature};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a lost connection to the signer is dialled again.
const REDIAL: Duration = Duration::from_millis(250);

/// A remote signer, reached from the node.
pub struct RemoteSigner {
    runtime: tokio::runtime::Handle,
    control: libp2p_stream::Control,
    signer: PeerId,
    public_key: PublicKey,
    timeout: Duration,
    /// Whether a connection to the signer is up: without one, a signature fails at once
    /// instead of holding the node's core for `timeout`.
    connected: Arc<AtomicBool>,
}

impl std::fmt::Debug for RemoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteSigner({})", self.signer)
    }
}

/// The peer id at the end of `addr` (`…/p2p/<id>`), and the address without it.
pub fn split_peer(addr: &Multiaddr) -> Result<(Multiaddr, PeerId), SignerError> {
    let mut addr = addr.clone();
    match addr.pop() {
        Some(Protocol::P2p(peer)) => Ok((addr, peer)),
        _ => Err(SignerError::Protocol(format!(
            "{addr} does not end in /p2p/<the signer's peer id>"
        ))),
    }
}

impl RemoteSigner {
    /// Connects to the signer at `addr` (ending in `/p2p/<its peer id>`) as `identity` (the
    /// node key: the signer admits only it), and learns the validator's public key. Retries
    /// for up to `patience` while the signer is unreachable; each request may take
    /// `timeout`. The connection lives on the current tokio runtime.
    pub async fn connect(
        identity: identity::Keypair,
        addr: &Multiaddr,
        timeout: Duration,
        patience: Duration,
    ) -> Result<RemoteSigner, SignerError> {
        let (dial, signer) = split_peer(addr)?;
        let mut swarm = crate::swarm(identity, signer, ConnectionLimits::default())?;
        let control = swarm.behaviour().streams.new_control();
        let connected = Arc::new(AtomicBool::new(false));
        let up = connected.clone();
        // Streams open over a connection this task keeps up: dialled now, and again (after a
        // pause) whenever it drops or a dial fails.
        tokio::spawn(async move {
            let redial = |swarm: &mut libp2p::Swarm<Behaviour>| {
                let opts = DialOpts::peer_id(signer)
                    .addresses(vec![dial.clone()])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                if let Err(e) = swarm.dial(opts) {
                    tracing::debug!(error = %e, "cannot dial the remote signer");
                }
            };
            redial(&mut swarm);
            let mut retry = tokio::time::interval(REDIAL);
            loop {
                tokio::select! {
                    _ = retry.tick() => {
                        let is = swarm.is_connected(&signer);
                        up.store(is, Ordering::Relaxed);
                        if !is {
                            redial(&mut swarm);
                        }
                    }
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                            up.store(true, Ordering::Relaxed);
                            tracing::info!(%peer_id, "connected to the remote signer");
                        }
                        SwarmEvent::ConnectionClosed { peer_id, num_established, .. } => {
                            if num_established == 0 {
                                up.store(false, Ordering::Relaxed);
                            }
                            tracing::warn!(%peer_id, "the remote signer disconnected");
                        }
                        SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                            connection,
                            result: Err(error),
                            ..
                        })) => {
                            tracing::warn!(%error, "the remote signer stopped answering pings");
                            swarm.close_connection(connection);
                        }
                        SwarmEvent::OutgoingConnectionError { error, .. } => {
                            tracing::debug!(%error, "cannot reach the remote signer");
                        }
                        _ => {}
                    },
                }
            }
        });
        let deadline = Instant::now() + patience;
        let public_key = loop {
            match request(&control, signer, &Request::PublicKey, timeout).await {
                Ok(Response::PublicKey(key)) => break key,
                Ok(other) => {
                    return Err(SignerError::Protocol(format!(
                        "asked for the public key, got {other:?}"
                    )));
                }
                Err(e) if Instant::now() < deadline => {
                    tracing::info!(error = %e, "waiting for the remote signer");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        };
        // It just answered: connected, whichever the swarm task reports first.
        connected.store(true, Ordering::Relaxed);
        Ok(RemoteSigner {
            runtime: tokio::runtime::Handle::current(),
            control,
            signer,
            public_key,
            timeout,
            connected,
        })
    }

    /// Asks for a signature of `statement` (async).
    pub async fn sign(
        &self,
        chain_id: &str,
        statement: &Statement,
    ) -> Result<Signature, SignerError> {
        let asked = Request::Sign {
            chain_id: chain_id.to_string(),
            statement: *statement,
        };
        match request(&self.control, self.signer, &asked, self.timeout).await? {
            Response::Signature(signature) => {
                // A signer that answers with a bad signature would get this validator's
                // messages dropped by every peer: catch it here.
                self.public_key
                    .verify(&statement.signing_hash(chain_id).0, &signature)
                    .map_err(|_| {
                        SignerError::Protocol("the signer's signature does not verify".into())
                    })?;
                Ok(signature)
            }
            Response::Refused(why) => Err(SignerError::Refused(why)),
            Response::PublicKey(_) => Err(SignerError::Protocol(
                "asked for a signature, got a public key".into(),
            )),
        }
    }
}

impl StatementSigner for RemoteSigner {
    fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// Blocks the calling thread (the node core's, never a runtime worker) on the request.
    fn sign_statement(
        &self,
        chain_id: &str,
        statement: &Statement,
    ) -> Result<Signature, SignError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking a runtime thread on itself would panic or deadlock.
            return Err(SignError(
                "the remote signer was called from an async task".into(),
            ));
        }
        if !self.connected.load(Ordering::Relaxed) {
            tracing::warn!("no connection to the remote signer: not signing");
            return Err(SignError("the remote signer is not connected".into()));
        }
        self.runtime
            .block_on(self.sign(chain_id, statement))
            .map_err(|e| {
                match &e {
                    SignerError::Refused(_) => tracing::error!(
                        height = statement.height,
                        view = statement.view,
                        phase = ?statement.phase,
                        error = %e,
                        "the remote signer refused to sign"
                    ),
                    _ => tracing::warn!(error = %e, "no signature from the remote signer"),
                }
                SignError(e.to_string())
            })
    }
}

/// One request on a new stream, within `timeout`.
async fn request(
    control: &libp2p_stream::Control,
    signer: PeerId,
    asked: &Request,
    timeout: Duration,
) -> Result<Response, SignerError> {
    let mut control = control.clone();
    tokio::time::timeout(timeout, async {
        let mut stream = control
            .open_stream(signer, PROTOCOL)
            .await
            .map_err(|e| SignerError::Unreachable(e.to_string()))?;
        write_frame(&mut stream, asked).await?;
        read_frame(&mut stream).await
    })
    .await
    .map_err(|_| SignerError::Unreachable(format!("no answer within {timeout:?}")))?
}
