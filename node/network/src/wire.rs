//! The one Phalanx protocol, `/phalanx/1`: a request and its answer per stream, each a
//! length-prefixed frame in the canonical encoding. Frames over [`MAX_FRAME`] are refused
//! before anything is allocated for them, and decoding checks the frame is exactly one value.

use async_trait::async_trait;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{Block, CommitCertificate, Height, SignedTx, decode_with_limit, encode};
use serde::{Deserialize, Serialize};
use std::io;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/phalanx/1");

/// Largest frame read from a peer: the decoder's own limit (16 MiB).
pub const MAX_FRAME: usize = phalanx_types::encoding::MAX_DECODE_BYTES;

/// Bytes of blocks put in one sync answer (a block alone may be up to the block limit).
pub const MAX_BLOCKS_BYTES: usize = 8 * 1024 * 1024;

/// Most transactions forwarded in one message.
pub const MAX_TXS_PER_MESSAGE: usize = 2_000;

/// Most blocks asked for or sent in one sync answer.
pub const MAX_BLOCKS: u32 = 64;

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
    /// TEST ONLY (feature `byzantine`): these bytes as the whole frame, whatever they are.
    /// Never decoded: a peer reads them as whatever request they claim to be.
    #[cfg(feature = "byzantine")]
    #[serde(skip)]
    Raw(Vec<u8>),
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
}

/// Reads and writes frames.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireCodec;

async fn read_frame<T, V>(io: &mut T) -> io::Result<V>
where
    T: AsyncRead + Unpin + Send,
    V: serde::de::DeserializeOwned,
{
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_FRAME}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    decode_with_limit(&buf, MAX_FRAME).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
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
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        #[cfg(feature = "byzantine")]
        if let Request::Raw(bytes) = &req {
            return write_bytes(io, bytes).await;
        }
        write_frame(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    #[test]
    fn frames_round_trip_and_bad_frames_are_refused() {
        futures::executor::block_on(async {
            let mut buf = Cursor::new(Vec::new());
            write_frame(&mut buf, &Request::Status { height: 7 })
                .await
                .unwrap();
            let bytes = buf.into_inner();
            let got: Request = read_frame(&mut Cursor::new(bytes.clone())).await.unwrap();
            assert!(matches!(got, Request::Status { height: 7 }));

            // A length over the limit is refused without reading (or allocating) the body.
            let mut huge = (u32::MAX).to_be_bytes().to_vec();
            huge.extend_from_slice(&[0; 8]);
            let err = read_frame::<_, Request>(&mut Cursor::new(huge))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("exceeds"), "{err}");

            // Garbage of the announced length, trailing bytes, and a truncated frame.
            let mut garbage = 4u32.to_be_bytes().to_vec();
            garbage.extend_from_slice(&[0xff; 4]);
            assert!(
                read_frame::<_, Request>(&mut Cursor::new(garbage))
                    .await
                    .is_err()
            );
            let mut trailing = bytes.clone();
            trailing[3] += 1;
            trailing.push(0);
            assert!(
                read_frame::<_, Request>(&mut Cursor::new(trailing))
                    .await
                    .is_err()
            );
            let truncated = bytes[..bytes.len() - 1].to_vec();
            assert!(
                read_frame::<_, Request>(&mut Cursor::new(truncated))
                    .await
                    .is_err()
            );
        });
    }
}
