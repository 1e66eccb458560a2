//! What the network tests share: a block source that serves no blocks.

#![allow(dead_code)]

use phalanx_network::BlockSource;
use phalanx_types::{Block, CommitCertificate, Height};

/// A node at a fixed height with no blocks to serve.
pub struct Tip(pub Height);

impl BlockSource for Tip {
    fn tip(&self) -> Height {
        self.0
    }
    fn blocks(&self, _: Height, _: u32, _: usize) -> Vec<(Block, CommitCertificate)> {
        Vec::new()
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
