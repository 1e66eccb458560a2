//! Frames of the Phalanx protocols. `/phalanx/1` carries a request and its answer per
//! stream (status and block sync; it still takes consensus messages and transactions from
//! peers that send them that way); the push streams of [`crate::push`] carry the same
//! frames back to back. A frame is a length-prefixed value in the canonical encoding. Frames over [`MAX_FRAME`] are refused
//! before anything is allocated for them, and decoding checks the frame is exactly one value.
//! Frames being read at once hold at most [`MAX_INFLIGHT_BYTES`] between them: a reader
//! takes room for each chunk before it reads it, so however many streams peers open (and
//! however large the lengths they announce), memory for frames in flight stays bounded,
//! and only bytes a peer really sent hold room. Frames up to [`SMALL_FRAME`] (votes,
//! status, acks) need no room, so a peer filling the budget cannot hold them up.

use async_trait::async_trait;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{Block, CommitCertificate, Hash, Height, SignedTx, decode_with_limit, encode};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/phalanx/1");

/// Largest frame read from a peer: the decoder's own limit (16 MiB).
pub const MAX_FRAME: usize = phalanx_types::encoding::MAX_DECODE_BYTES;

/// Bytes of blocks put in one sync answer (a block alone may be up to the block limit).
pub const MAX_BLOCKS_BYTES: usize = 8 * 1024 * 1024;

/// Most transactions forwarded in one message.
pub const MAX_TXS_PER_MESSAGE: usize = 2_000;

/// Bytes of transactions a node puts in one message (one larger transaction goes alone).
pub const MAX_TXS_BYTES: usize = 4 * 1024 * 1024;

/// Most blocks asked for or sent in one sync answer.
pub const MAX_BLOCKS: u32 = 64;

/// Bytes of frames being read at once, over every stream of every connection.
pub const MAX_INFLIGHT_BYTES: usize = 256 * 1024 * 1024;

/// Frames up to this size are read without taking room from the budget (the streams a
/// connection may carry bound them), and larger ones take room in chunks of this size.
pub const SMALL_FRAME: usize = 64 * 1024;

/// A value with the size of the frame it came in (0 for one built locally).
#[derive(Debug, Clone)]
pub struct Framed<T> {
    /// The value.
    pub value: T,
    /// Bytes of its frame as read.
    pub bytes: usize,
}

impl<T> Framed<T> {
    /// A value to send.
    pub fn new(value: T) -> Framed<T> {
        Framed { value, bytes: 0 }
    }
}

/// What a peer asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// A consensus message (signed; the receiver verifies it).
    Consensus(Box<SignedMessage>),
    /// Transactions for the mempool (at most [`MAX_TXS_PER_MESSAGE`] are sent at once).
    Txs(Vec<SignedTx>),
    /// "My latest height is this; what is yours?"
    Status {
        /// The sender's latest committed height.
        height: Height,
    },
    /// Certified blocks from `from`, at most `max`.
    GetBlocks {
        /// First height.
        from: Height,
        /// Most blocks wanted.
        max: u32,
    },
    /// "Which state snapshots do you serve?" (answered with [`Response::Snapshots`]).
    Snapshots,
    /// A part of the snapshot at `height` (answered with [`Response::SnapshotPart`]).
    SnapshotPart {
        /// The snapshot's height.
        height: Height,
        /// Which part.
        part: SnapshotPart,
    },
    /// A frame encoded earlier (a push frame sent as a request to a peer that has no push
    /// streams: a node of the previous version). Never decoded: the peer reads it as the
    /// request it encodes.
    #[serde(skip)]
    Encoded(crate::push::Frame),
    /// TEST ONLY (feature `byzantine`): these bytes as the whole frame, whatever they are.
    /// Never decoded: a peer reads them as whatever request they claim to be.
    #[cfg(feature = "byzantine")]
    #[serde(skip)]
    Raw(Vec<u8>),
}

/// Most snapshots one answer lists (a node keeps a few; more are cut on receipt).
pub const MAX_OFFERS: usize = 16;

/// A state snapshot a peer serves: which state, and how it is cut (the manifest of
/// `phalanx_storage::snapshot`, as plain fields). A syncing node trusts none of it until
/// the block at `height` is certified and every chunk proves against its state root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SnapshotOffer {
    /// The height whose post-state it is.
    pub height: Height,
    /// The state root in that height's header.
    pub state_root: Hash,
    /// Chunks are the subtrees at this depth (`2^depth` of them).
    pub depth: u8,
    /// Keys in the state.
    pub keys: u64,
}

/// Which part of a snapshot is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotPart {
    /// What comes before the chunks: the manifest, the certified block and the proofs of
    /// validator-set changes, encoded.
    Header,
    /// The chunk with this index, encoded.
    Chunk(u32),
}

/// The answer to a [`Request::SnapshotPart`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartAnswer {
    /// The part's bytes (checked by the asker, who trusts nothing in them).
    Bytes(Vec<u8>),
    /// Serving too much now (rate or concurrency limit): ask again later or elsewhere.
    Busy,
    /// Not served here (no such snapshot or chunk).
    Missing,
}

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// Received.
    Ack,
    /// The answerer's latest committed height.
    Status {
        /// Height.
        height: Height,
    },
    /// Consecutive certified blocks, and the answerer's latest height.
    Blocks {
        /// Blocks with their commit certificates.
        blocks: Vec<(Block, CommitCertificate)>,
        /// The answerer's latest committed height.
        tip: Height,
    },
    /// The snapshots the answerer serves, at most [`MAX_OFFERS`].
    Snapshots(Vec<SnapshotOffer>),
    /// A part of a snapshot.
    SnapshotPart(PartAnswer),
}

/// A request encoded as a frame body, to share between peers.
pub(crate) fn encode_request(request: &Request) -> crate::push::Frame {
    encode(request).into()
}

/// Reads and writes frames; its clones share one budget of bytes in flight.
#[derive(Debug, Clone)]
pub struct WireCodec {
    inflight: Arc<Semaphore>,
}

impl Default for WireCodec {
    fn default() -> Self {
        WireCodec::with_budget(MAX_INFLIGHT_BYTES)
    }
}

impl WireCodec {
    /// The budget of bytes in flight its readers share (push streams take from it too).
    pub(crate) fn budget(&self) -> Arc<Semaphore> {
        self.inflight.clone()
    }

    /// A codec whose readers hold at most `bytes` of frames at once (at least one frame).
    pub fn with_budget(bytes: usize) -> WireCodec {
        WireCodec {
            inflight: Arc::new(Semaphore::new(bytes.max(MAX_FRAME))),
        }
    }
}

/// Reads one frame: its length, then its body in chunks that each take room from
/// `inflight` first (frames up to [`SMALL_FRAME`] take none), then decodes it.
pub(crate) async fn read_frame<T, V>(io: &mut T, inflight: &Semaphore) -> io::Result<Framed<V>>
where
    T: AsyncRead + Unpin + Send,
    V: serde::de::DeserializeOwned,
{
    let len = read_len(io).await?;
    let body = read_body(io, len, inflight, None).await?;
    decode_body(&body)
}

/// Reads a frame's length and refuses one over [`MAX_FRAME`] (nothing is read past it).
pub(crate) async fn read_len<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<usize> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_FRAME}"),
        ));
    }
    Ok(len)
}

/// A frame's body of `len` bytes, with the room it holds in `inflight` (given back when
/// the body is dropped).
pub(crate) struct Body<'a> {
    bytes: Vec<u8>,
    _room: Option<tokio::sync::SemaphorePermit<'a>>,
}

/// Reads `len` bytes of body, taking room for each chunk before it is read. With a
/// `deadline`, the reading (not the waits for room) must finish within it.
pub(crate) async fn read_body<'a, T: AsyncRead + Unpin + Send>(
    io: &mut T,
    len: usize,
    inflight: &'a Semaphore,
    deadline: Option<std::time::Duration>,
) -> io::Result<Body<'a>> {
    let mut reading = std::time::Duration::ZERO;
    // Room for each chunk before it is read; all of it is held until the frame is decoded.
    let mut room: Option<tokio::sync::SemaphorePermit<'_>> = None;
    let mut buf = Vec::with_capacity(len.min(SMALL_FRAME));
    while buf.len() < len {
        let chunk = (len - buf.len()).min(SMALL_FRAME);
        if len > SMALL_FRAME {
            let more = inflight
                .acquire_many(chunk as u32)
                .await
                .map_err(|_| io::Error::other("codec closed"))?;
            match room.as_mut() {
                Some(r) => r.merge(more),
                None => room = Some(more),
            }
        }
        let start = buf.len();
        // Exactly what the budget counted, not a doubling.
        buf.reserve_exact(chunk);
        buf.resize(start + chunk, 0);
        let began = tokio::time::Instant::now();
        match deadline {
            None => io.read_exact(&mut buf[start..]).await?,
            Some(d) => {
                let left = d.saturating_sub(reading);
                tokio::time::timeout(left, io.read_exact(&mut buf[start..]))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "frame too slow"))??
            }
        }
        reading += began.elapsed();
    }
    Ok(Body {
        bytes: buf,
        _room: room,
    })
}

/// Decodes a body as exactly one value.
pub(crate) fn decode_body<V: serde::de::DeserializeOwned>(
    body: &Body<'_>,
) -> io::Result<Framed<V>> {
    let value = decode_with_limit(&body.bytes, MAX_FRAME)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Framed {
        value,
        bytes: body.bytes.len(),
    })
}

async fn write_frame<T, V>(io: &mut T, value: &V) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    V: Serialize,
{
    write_bytes(io, &encode(value)).await
}

async fn write_bytes<T>(io: &mut T, bytes: &[u8]) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    if bytes.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds {MAX_FRAME}", bytes.len()),
        ));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

#[async_trait]
impl libp2p::request_response::Codec for WireCodec {
    type Protocol = StreamProtocol;
    type Request = Framed<Request>;
    type Response = Framed<Response>;

    async fn read_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Framed<Request>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, &self.inflight).await
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Framed<Response>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, &self.inflight).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Framed<Request>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        if let Request::Encoded(bytes) = &req.value {
            return write_bytes(io, bytes).await;
        }
        #[cfg(feature = "byzantine")]
        if let Request::Raw(bytes) = &req.value {
            return write_bytes(io, bytes).await;
        }
        write_frame(io, &req.value).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Framed<Response>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res.value).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    #[test]
    fn frames_round_trip_and_bad_frames_are_refused() {
        let budget = Semaphore::new(MAX_FRAME);
        let budget = &budget;
        futures::executor::block_on(async {
            let mut buf = Cursor::new(Vec::new());
            write_frame(&mut buf, &Request::Status { height: 7 })
                .await
                .unwrap();
            let bytes = buf.into_inner();
            let got: Framed<Request> = read_frame(&mut Cursor::new(bytes.clone()), budget)
                .await
                .unwrap();
            assert!(matches!(got.value, Request::Status { height: 7 }));
            assert_eq!(got.bytes, bytes.len() - 4);

            // A length over the limit is refused without reading (or allocating) the body.
            let mut huge = (u32::MAX).to_be_bytes().to_vec();
            huge.extend_from_slice(&[0; 8]);
            let err = read_frame::<_, Request>(&mut Cursor::new(huge), budget)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("exceeds"), "{err}");

            // Garbage of the announced length, trailing bytes, and a truncated frame.
            let mut garbage = 4u32.to_be_bytes().to_vec();
            garbage.extend_from_slice(&[0xff; 4]);
            assert!(
                read_frame::<_, Request>(&mut Cursor::new(garbage), budget)
                    .await
                    .is_err()
            );
            let mut trailing = bytes.clone();
            trailing[3] += 1;
            trailing.push(0);
            assert!(
                read_frame::<_, Request>(&mut Cursor::new(trailing), budget)
                    .await
                    .is_err()
            );
            let truncated = bytes[..bytes.len() - 1].to_vec();
            assert!(
                read_frame::<_, Request>(&mut Cursor::new(truncated), budget)
                    .await
                    .is_err()
            );
            assert_eq!(
                budget.available_permits(),
                MAX_FRAME,
                "every read gave its room back"
            );
        });
    }

    #[test]
    fn requests_keep_their_numbers_and_snapshot_parts_round_trip() {
        // Variants added later come after the old ones (and before the skipped, never
        // encoded ones), so older peers still read what they know.
        let tag = |r: &Request| u32::from_le_bytes(encode(r)[..4].try_into().unwrap());
        assert_eq!(tag(&Request::Status { height: 1 }), 2);
        assert_eq!(tag(&Request::GetBlocks { from: 1, max: 1 }), 3);
        assert_eq!(tag(&Request::Snapshots), 4);
        let ask = Request::SnapshotPart {
            height: 9,
            part: SnapshotPart::Chunk(3),
        };
        assert_eq!(tag(&ask), 5);
        let back: Request = phalanx_types::decode(&encode(&ask)).unwrap();
        assert!(matches!(
            back,
            Request::SnapshotPart {
                height: 9,
                part: SnapshotPart::Chunk(3)
            }
        ));
        let answer = Response::SnapshotPart(PartAnswer::Bytes(vec![1, 2, 3]));
        let back: Response = phalanx_types::decode(&encode(&answer)).unwrap();
        assert!(matches!(back, Response::SnapshotPart(PartAnswer::Bytes(b)) if b == [1, 2, 3]));
    }

    #[test]
    fn a_reader_waits_for_room_before_it_allocates() {
        futures::executor::block_on(async {
            let budget = Semaphore::new(4 * SMALL_FRAME);
            let mut buf = Cursor::new(Vec::new());
            write_frame(&mut buf, &Request::Txs(Vec::new()))
                .await
                .unwrap();
            let small = buf.into_inner();
            // All the room is taken (frames of other streams being read): a small frame is
            // read anyway.
            let held = budget.acquire_many(4 * SMALL_FRAME as u32).await.unwrap();
            let got = read_frame::<_, Request>(&mut Cursor::new(small), &budget)
                .await
                .unwrap();
            assert!(matches!(got.value, Request::Txs(ref t) if t.is_empty()));
            // A large frame waits for room for its first chunk before it reads it.
            let mut frame = ((SMALL_FRAME + 1) as u32).to_be_bytes().to_vec();
            frame.extend(vec![0u8; SMALL_FRAME + 1]);
            let mut cursor = Cursor::new(frame);
            let mut read = Box::pin(read_frame::<_, Request>(&mut cursor, &budget));
            assert!(futures::poll!(read.as_mut()).is_pending(), "waits for room");
            drop(held);
            // Room given, it reads (and refuses the zeroes as a request), then gives it back.
            assert!(read.await.is_err());
            assert_eq!(budget.available_permits(), 4 * SMALL_FRAME);
        });
    }
}
