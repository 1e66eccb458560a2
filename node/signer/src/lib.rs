//! A remote signer for a Phalanx validator (as CometBFT's privval and tmkms do): `phalanx
//! signer` runs on another machine, holds the validator key and its own double-sign guard,
//! and signs consensus statements for one node over an authenticated connection.
//!
//! * **Transport:** libp2p over TCP with Noise (both ends prove their ed25519 identities:
//!   the signer admits only the node's peer id, the node dials only the signer's) and
//!   Yamux; one stream per request, protocol [`PROTOCOL`].
//! * **Frames:** a 4-byte big-endian length, then a [`Request`] or [`Response`] in the
//!   node's canonical encoding, at most [`MAX_FRAME`] bytes.
//! * **Guard:** [`guard::Guard`] refuses a second digest for any (height, view, phase) and
//!   syncs each new signature to disk before answering.
//! * **Node side:** [`client::RemoteSigner`] is a `phalanx_consensus::StatementSigner`; it
//!   checks every signature it gets back against the validator's public key.

pub mod client;
pub mod guard;
pub mod server;

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::StreamProtocol;
use phalanx_types::consensus::Statement;
use phalanx_types::{PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// The signer's stream protocol.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/phalanx/signer/1");

/// Largest frame either side reads.
pub const MAX_FRAME: usize = 4096;

/// What a node asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// The validator key's public half.
    PublicKey,
    /// Sign `statement` of chain `chain_id`.
    Sign {
        /// The chain.
        chain_id: String,
        /// What to sign.
        statement: Statement,
    },
}

/// What the signer answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// The validator's public key.
    PublicKey(PublicKey),
    /// The signature over the statement's signing hash.
    Signature(Signature),
    /// Refused, and why (a double sign, another chain, a height too old).
    Refused(String),
}

/// Errors of the signer and its client.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignerError {
    /// The guard refused to sign.
    #[error("refused: {0}")]
    Refused(String),
    /// The guard's state file cannot be read or written.
    #[error("sign state: {0}")]
    State(String),
    /// The connection to the signer failed or timed out.
    #[error("signer unreachable: {0}")]
    Unreachable(String),
    /// The other end broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Setting up the transport failed.
    #[error("transport: {0}")]
    Transport(String),
}

/// Both ends' libp2p behaviour: only the one peer at the other end gets through the
/// handshake, a connection that stops answering pings is closed (a host gone without
/// closing must not hold a slot or swallow requests until TCP gives up), and requests
/// travel on streams.
#[derive(libp2p::swarm::NetworkBehaviour)]
pub(crate) struct Behaviour {
    allow: libp2p::allow_block_list::Behaviour<libp2p::allow_block_list::AllowedPeers>,
    limits: libp2p::connection_limits::Behaviour,
    pub(crate) ping: libp2p::ping::Behaviour,
    pub(crate) streams: libp2p_stream::Behaviour,
}

/// A connection without streams is closed after this long (a node signs every block).
pub(crate) const IDLE: std::time::Duration = std::time::Duration::from_secs(600);

/// A swarm over TCP, Noise and Yamux as `identity`, admitting only `peer`, within `limits`.
pub(crate) fn swarm(
    identity: libp2p::identity::Keypair,
    peer: libp2p::PeerId,
    limits: libp2p::connection_limits::ConnectionLimits,
) -> Result<libp2p::Swarm<Behaviour>, SignerError> {
    let transport = |e: &dyn std::fmt::Display| SignerError::Transport(e.to_string());
    Ok(libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| transport(&e))?
        .with_behaviour(|_| {
            let mut allow = libp2p::allow_block_list::Behaviour::default();
            allow.allow_peer(peer);
            Behaviour {
                allow,
                limits: libp2p::connection_limits::Behaviour::new(limits),
                ping: libp2p::ping::Behaviour::default(),
                streams: libp2p_stream::Behaviour::new(),
            }
        })
        .map_err(|e| transport(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE))
        .build())
}

/// Writes one length-prefixed frame.
pub(crate) async fn write_frame<T: Serialize>(
    stream: &mut libp2p::Stream,
    value: &T,
) -> Result<(), SignerError> {
    let bytes = phalanx_types::encode(value);
    if bytes.len() > MAX_FRAME {
        return Err(SignerError::Protocol("frame too large".into()));
    }
    let io = |e: std::io::Error| SignerError::Unreachable(e.to_string());
    stream
        .write_all(&(bytes.len() as u32).to_be_bytes())
        .await
        .map_err(io)?;
    stream.write_all(&bytes).await.map_err(io)?;
    stream.flush().await.map_err(io)
}

/// Reads one length-prefixed frame of at most [`MAX_FRAME`] bytes.
pub(crate) async fn read_frame<T: serde::de::DeserializeOwned>(
    stream: &mut libp2p::Stream,
) -> Result<T, SignerError> {
    let io = |e: std::io::Error| SignerError::Unreachable(e.to_string());
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(io)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(SignerError::Protocol(format!("a frame of {len} bytes")));
    }
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.map_err(io)?;
    phalanx_types::decode(&buf).map_err(|e| SignerError::Protocol(e.to_string()))
}
