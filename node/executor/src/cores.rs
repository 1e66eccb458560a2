//! How many threads signature checks may spread over.

use std::sync::OnceLock;

/// The machine's available parallelism, read once: the standard library's answer comes from
/// system calls (cgroup quota files on Linux), which cost more than a small batch of checks.
pub fn available() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
