//! Prometheus metrics (`GET /metrics`), with `prometheus-client`: OpenMetrics for a scraper
//! that asks for it (Prometheus does), the classic text format (0.0.4) otherwise, which is
//! what `promtool check metrics` reads.
//!
//! The node's event loop records commits and consensus progress; the RPC server counts
//! requests by method and outcome, and samples peers, mempool and sync status when scraped.

use phalanx_types::Address;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The node's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit the node was built from ("unknown" outside a git checkout).
pub const COMMIT: &str = env!("PHALANX_COMMIT");

/// `Content-Type` of the OpenMetrics exposition.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` of the classic text exposition.
pub const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The classic text format (0.0.4) of an OpenMetrics exposition from `prometheus-client`:
/// a counter's `HELP` and `TYPE` name its `_total` sample, an info metric is a gauge of its
/// `_info` sample, and `UNIT` and `EOF` lines go.
pub fn to_classic(openmetrics: &str) -> String {
    let mut types: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            types.insert(name, kind);
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|r| ("HELP", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("TYPE", r)));
        match meta {
            Some((what, rest)) => {
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let (name, text) = match (types.get(name).copied(), what) {
                    (Some("counter"), _) => (format!("{name}_total"), text),
                    (Some("info"), "TYPE") => (format!("{name}_info"), "gauge"),
                    (Some("info"), _) => (format!("{name}_info"), text),
                    _ => (name.to_string(), text),
                };
                out.push_str(&format!("# {what} {name} {text}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Whether a scraper's `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// Labels of the RPC request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// The method (`unknown` for names that are not methods, so the label stays bounded).
    pub method: String,
    /// 0 for success, else the JSON-RPC error code.
    pub code: i64,
}

/// Labels of the per-validator participation counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ValidatorLabels {
    /// The validator's address (hex); bounded by the validator set.
    pub validator: String,
}

/// Every metric the node exports.
pub struct Metrics {
    registry: Registry,
    /// Latest committed height.
    pub height: Gauge,
    /// Current consensus view.
    pub view: Gauge,
    /// Views entered after the first (each is a replaced primary).
    pub view_changes: Counter,
    /// Seconds from a block's timestamp (its proposal) to its commit on this node.
    pub commit_latency: Histogram,
    /// Transactions per committed block.
    pub block_txs: Histogram,
    /// Encoded bytes per committed block.
    pub block_bytes: Histogram,
    /// Pending transactions.
    pub mempool: Gauge,
    /// Connected peers.
    pub peers: Gauge,
    /// 1 while a peer is known to be more than a block ahead.
    pub syncing: Gauge,
    /// RPC requests by method and outcome.
    pub rpc_requests: Family<RpcLabels, Counter>,
    /// Block heights deleted by the pruner.
    pub pruned_blocks: Counter,
    /// State tree nodes deleted by the pruner.
    pub pruned_tree_nodes: Counter,
    /// The lowest height whose block this node keeps.
    pub earliest_height: Gauge,
    /// The oldest state version this node keeps.
    pub earliest_state_height: Gauge,
    /// Height of the newest state snapshot this node keeps and serves (0: none).
    pub snapshot_height: Gauge,
    /// Height of the snapshot a state sync is fetching (0: none).
    pub statesync_height: Gauge,
    /// Chunks of the snapshot being fetched.
    pub statesync_chunks: Gauge,
    /// Chunks fetched and verified so far.
    pub statesync_chunks_done: Gauge,
    /// Chunks or headers refused (their peer is avoided afterwards).
    pub statesync_bad_chunks: Counter,
    /// Heights this node decided with the validator's vote in hand.
    pub validator_votes: Family<ValidatorLabels, Counter>,
    /// Heights this node decided before the validator's vote arrived (a down, slow or
    /// partitioned validator): the missed-vote counter to alert on.
    pub validator_missed: Family<ValidatorLabels, Counter>,
    /// The last height this node decided with the validator's vote in hand.
    pub validator_last_vote: Family<ValidatorLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric under the `phalanx_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("phalanx");
        let m = Metrics {
            height: Gauge::default(),
            view: Gauge::default(),
            view_changes: Counter::default(),
            commit_latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            block_txs: Histogram::new(exponential_buckets(1.0, 4.0, 9)),
            block_bytes: Histogram::new(exponential_buckets(256.0, 4.0, 10)),
            mempool: Gauge::default(),
            peers: Gauge::default(),
            syncing: Gauge::default(),
            rpc_requests: Family::default(),
            pruned_blocks: Counter::default(),
            pruned_tree_nodes: Counter::default(),
            earliest_height: Gauge::default(),
            earliest_state_height: Gauge::default(),
            snapshot_height: Gauge::default(),
            statesync_height: Gauge::default(),
            statesync_chunks: Gauge::default(),
            statesync_chunks_done: Gauge::default(),
            statesync_bad_chunks: Counter::default(),
            validator_votes: Family::default(),
            validator_missed: Family::default(),
            validator_last_vote: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "build",
            "The node's version and the commit it was built from",
            Info::new(vec![
                ("version".to_string(), VERSION.to_string()),
                ("commit".to_string(), COMMIT.to_string()),
            ]),
        );
        registry.register("height", "Latest committed height", m.height.clone());
        registry.register("view", "Current pBFT view", m.view.clone());
        registry.register(
            "view_changes",
            "Views entered after the first",
            m.view_changes.clone(),
        );
        registry.register(
            "commit_latency_seconds",
            "From a block's proposal timestamp to its commit on this node",
            m.commit_latency.clone(),
        );
        registry.register(
            "block_txs",
            "Transactions per committed block",
            m.block_txs.clone(),
        );
        registry.register(
            "block_bytes",
            "Encoded bytes per committed block",
            m.block_bytes.clone(),
        );
        registry.register("mempool_txs", "Pending transactions", m.mempool.clone());
        registry.register("peers", "Connected peers", m.peers.clone());
        registry.register(
            "syncing",
            "1 while catching up with a peer",
            m.syncing.clone(),
        );
        registry.register(
            "rpc_requests",
            "JSON-RPC requests by method and code",
            m.rpc_requests.clone(),
        );
        registry.register(
            "pruned_blocks",
            "Block heights deleted by the pruner",
            m.pruned_blocks.clone(),
        );
        registry.register(
            "pruned_tree_nodes",
            "State tree nodes deleted by the pruner",
            m.pruned_tree_nodes.clone(),
        );
        registry.register(
            "earliest_height",
            "Lowest height whose block is kept",
            m.earliest_height.clone(),
        );
        registry.register(
            "earliest_state_height",
            "Oldest state version kept",
            m.earliest_state_height.clone(),
        );
        registry.register(
            "snapshot_height",
            "Height of the newest state snapshot kept and served (0: none)",
            m.snapshot_height.clone(),
        );
        registry.register(
            "statesync_height",
            "Height of the snapshot a state sync is fetching (0: none)",
            m.statesync_height.clone(),
        );
        registry.register(
            "statesync_chunks",
            "Chunks of the snapshot being fetched by state sync",
            m.statesync_chunks.clone(),
        );
        registry.register(
            "statesync_chunks_done",
            "Snapshot chunks fetched and verified by state sync",
            m.statesync_chunks_done.clone(),
        );
        registry.register(
            "statesync_bad_chunks",
            "Snapshot chunks or headers refused by state sync (their peer is avoided)",
            m.statesync_bad_chunks.clone(),
        );
        registry.register(
            "validator_votes",
            "Heights decided here with this validator's vote (PREPARE or COMMIT) in hand",
            m.validator_votes.clone(),
        );
        registry.register(
            "validator_missed_votes",
            "Heights decided here before this validator's vote arrived",
            m.validator_missed.clone(),
        );
        registry.register(
            "validator_last_vote_height",
            "Last height decided here with this validator's vote in hand",
            m.validator_last_vote.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Starts the per-validator series at zero for every validator of `set` (so a dashboard
    /// and an alert see a validator that never voted, not a missing series).
    pub fn known_validators(&self, set: &[Address]) {
        for a in set {
            let label = ValidatorLabels {
                validator: a.to_hex(),
            };
            let _ = self.validator_votes.get_or_create(&label);
            let _ = self.validator_missed.get_or_create(&label);
        }
    }

    /// Records who took part in a height this node decided (see
    /// `phalanx_core::Action::Participation`).
    pub fn participation(&self, height: u64, voted: &[Address], missed: &[Address]) {
        let label = |a: &Address| ValidatorLabels {
            validator: a.to_hex(),
        };
        for a in voted {
            self.validator_votes.get_or_create(&label(a)).inc();
            self.validator_last_vote
                .get_or_create(&label(a))
                .set(height as i64);
        }
        for a in missed {
            self.validator_missed.get_or_create(&label(a)).inc();
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_format_names_counter_and_info_samples() {
        let m = Metrics::new();
        m.view_changes.inc();
        let om = m.encode();
        assert!(om.contains("# TYPE phalanx_view_changes counter") && om.ends_with("# EOF\n"));
        let classic = to_classic(&om);
        for line in [
            "# HELP phalanx_view_changes_total Views entered after the first.",
            "# TYPE phalanx_view_changes_total counter",
            "phalanx_view_changes_total 1",
            "# TYPE phalanx_build_info gauge",
            "# TYPE phalanx_commit_latency_seconds histogram",
        ] {
            assert!(
                classic.lines().any(|l| l == line),
                "no {line:?} in\n{classic}"
            );
        }
        assert!(classic.contains(&format!(
            "phalanx_build_info{{version=\"{VERSION}\",commit=\"{COMMIT}\"}} 1"
        )));
        assert!(!classic.contains("# EOF") && !classic.contains("# UNIT"));
        // Every sample has its family's HELP and TYPE before it.
        let mut described = std::collections::HashSet::new();
        for line in classic.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                described.insert(rest.split(' ').next().unwrap().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|f| described.contains(*f))
                    .unwrap_or(name);
                assert!(described.contains(family), "{name} has no TYPE");
            }
        }
    }

    #[test]
    fn participation_counts_votes_and_misses_per_validator() {
        let m = Metrics::new();
        let (a, b, c) = (Address([1; 32]), Address([2; 32]), Address([3; 32]));
        m.known_validators(&[c]);
        m.participation(7, &[a], &[b]);
        m.participation(8, &[a, b], &[]);
        let classic = to_classic(&m.encode());
        let (ha, hb) = (a.to_hex(), b.to_hex());
        for line in [
            format!("phalanx_validator_votes_total{{validator=\"{ha}\"}} 2"),
            format!("phalanx_validator_votes_total{{validator=\"{hb}\"}} 1"),
            format!("phalanx_validator_missed_votes_total{{validator=\"{hb}\"}} 1"),
            format!("phalanx_validator_last_vote_height{{validator=\"{hb}\"}} 8"),
            // A validator of the set that never voted shows at zero, not missing.
            format!(
                "phalanx_validator_missed_votes_total{{validator=\"{}\"}} 0",
                c.to_hex()
            ),
        ] {
            assert!(
                classic.lines().any(|l| l == line),
                "no {line} in\n{classic}"
            );
        }
        assert!(!classic.contains(&format!(
            "phalanx_validator_missed_votes_total{{validator=\"{ha}\"}}"
        )));
    }

    #[test]
    fn scrapers_get_the_format_they_ask_for() {
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(None));
    }
}
