//! Command-line interface (clap).

use crate::{bench, client, home, keys, node};
use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Phalanx: a permissioned blockchain node with pBFT finality and wasm contracts.
#[derive(Debug, Parser)]
#[command(name = "phalanx", version, about)]
pub struct Cli {
    /// Log format (level from RUST_LOG, default info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// Output format of client commands.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Human,
    /// For scripts.
    Json,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a single-validator development chain (creates its home on first run).
    Dev {
        /// Node home.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
        /// JSON-RPC listen address (default: the home's `rpc.listen`, 127.0.0.1:8645 in a
        /// new home).
        #[arg(long)]
        rpc: Option<SocketAddr>,
    },
    /// Create keys, config and a one-validator genesis in a new home.
    Init {
        /// Node home to create.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
        /// Chain id.
        #[arg(long)]
        chain_id: String,
    },
    /// Write the homes of an N-validator network: on 127.0.0.1, or one per host (`--hosts`).
    Testnet {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Output directory (gets node0 … node{N-1}, client.key, testnet.json).
        #[arg(long)]
        out: PathBuf,
        /// First port; node i uses P+2i for p2p and P+2i+1 for RPC, all on 127.0.0.1.
        #[arg(long, default_value_t = 26600, conflicts_with = "hosts")]
        base_port: u16,
        /// One IP address per validator (comma-separated), for nodes on separate hosts or
        /// containers: node i listens on every interface on ports 26656 (p2p) and 8645
        /// (RPC), and the others dial it at the i-th address.
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<std::net::IpAddr>,
        /// Chain id.
        #[arg(long, default_value = "phalanx-testnet")]
        chain_id: String,
    },
    /// Run a node from its home.
    Start {
        /// Node home.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
        /// Override the JSON-RPC listen address.
        #[arg(long)]
        rpc: Option<SocketAddr>,
        /// Override the p2p listen multiaddr.
        #[arg(long)]
        p2p: Option<String>,
        /// On an empty home, join from the newest state snapshot that f+1 peers serve
        /// (verified from genesis) instead of replaying every block; a sync that did not
        /// finish resumes. Ignored once the home holds chain data.
        #[arg(long)]
        state_sync: bool,
        /// TEST ONLY (builds with the `byzantine` feature): attack the network this way.
        #[cfg(feature = "byzantine")]
        #[arg(long, value_enum)]
        byzantine: Option<node::Strategy>,
    },
    /// Account keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check a genesis file, or print its hash.
    #[command(subcommand)]
    Genesis(crate::maintain::GenesisCommand),
    /// Delete a home's chain data (blocks, state, consensus log, snapshots) and keep its keys,
    /// config and genesis: the node starts again from genesis and syncs. Refuses while a node
    /// runs on the home. Unsafe for a validator that signed at the chain's current height.
    UnsafeResetAll {
        /// Node home.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
    },
    /// Rewind a stopped node's tip block: its state goes back one height, and the block and
    /// certificate are kept and re-executed on the next start, committed only if they execute
    /// to the certified header. For recovery after a bad upgrade; the chain is not changed.
    Rollback {
        /// Node home.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
    },
    /// Print the libp2p peer id of a home's node key.
    ShowNodeId {
        /// Node home.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
    },
    /// Run a remote signer: hold a validator key off the node and sign for one node over
    /// an authenticated connection, never twice for one (height, view, phase).
    Signer(crate::signer::SignerArgs),
    /// Serve the JSON-RPC API (and the explorer, if configured) over a stopped node's data,
    /// read-only: for looking into a home without starting consensus.
    Inspect {
        /// Node home.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
        /// JSON-RPC listen address (default: the home's `rpc.listen`).
        #[arg(long)]
        rpc: Option<SocketAddr>,
    },
    /// Print the settings a node would run with: config.toml plus `PHALANX_*` overrides
    /// (`phalanx config set` changes one).
    Config {
        /// Node home.
        #[arg(long, global = true, default_value_os_t = home::default_home())]
        home: PathBuf,
        /// Change a setting instead.
        #[command(subcommand)]
        action: Option<crate::config::ConfigCommand>,
    },
    /// Print the validator public key and address of a home (public data only).
    ShowValidator {
        /// Node home.
        #[arg(long, default_value_os_t = home::default_home())]
        home: PathBuf,
    },
    /// Send transactions (waits for finality).
    #[command(subcommand)]
    Tx(TxCommand),
    /// Governance: propose and approve membership and parameter changes, list proposals.
    #[command(subcommand)]
    Gov(crate::gov::GovCommand),
    /// State snapshots: export the state at a height to a file; import one into a new home.
    #[command(subcommand)]
    Snapshot(crate::snapshot::SnapshotCommand),
    /// Contract authors' tools: new projects, builds checked by the deploy rules, ABIs.
    #[command(subcommand)]
    Contract(crate::contract::ContractCommand),
    /// Read-only contract call: no transaction, nothing is written.
    Query {
        /// Contract address (hex).
        address: String,
        /// Method.
        method: String,
        /// Arguments (JSON).
        args: Option<String>,
        /// Read the state after this block (a height the node retains) instead of the latest.
        #[arg(long)]
        height: Option<u64>,
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
    },
    /// The node's status.
    Status {
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
    },
    /// Fetch a contract storage value with its proof and verify it against a commit
    /// certificate: trusts no single node.
    Verify {
        /// Contract address (hex).
        address: String,
        /// The contract's storage key (hex), e.g. `62` ++ account for a token balance.
        key: String,
        /// Height (default latest).
        #[arg(long)]
        height: Option<u64>,
        /// Genesis file to take the validator set from (otherwise the node's word is taken).
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
    },
    /// Load generator: deploys the token, funds senders, submits transfers at a rate and
    /// prints `tps=N p50_ms=N p99_ms=N committed=N`.
    Bench {
        /// Node RPC URLs (repeat for several nodes).
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: Vec<String>,
        /// The token contract (`cargo build --release --target wasm32-unknown-unknown --manifest-path contracts/Cargo.toml`).
        #[arg(
            long,
            default_value = "contracts/target/wasm32-unknown-unknown/release/token.wasm"
        )]
        token: PathBuf,
        /// Account key that may deploy (the dev key, or a testnet's client.key).
        #[arg(long)]
        key: PathBuf,
        /// Sending accounts.
        #[arg(long, default_value_t = 64)]
        senders: usize,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Transfers per second, or `max`.
        #[arg(long, default_value = "1000")]
        rate: bench::Rate,
        /// Submitting threads.
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// Transactions per tx_submitBatch request.
        #[arg(long, default_value_t = 1)]
        batch: usize,
    },
    /// A block (latest if no height) with its certificate.
    Block {
        /// Height.
        height: Option<u64>,
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
    },
}

/// `phalanx tx …`
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Deploy a contract and wait for finality; prints its address.
    Deploy {
        /// The wasm module.
        file: PathBuf,
        /// Arguments of `init` (JSON).
        #[arg(long)]
        init: Option<String>,
        /// Account key file that signs.
        #[arg(long)]
        key: PathBuf,
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
        /// Gas limit: a number, or `auto` (200,000,000: deploys are not simulated).
        #[arg(long, default_value = "auto")]
        gas: client::GasArg,
        /// Who may migrate the contract later: `self` (the signing account), an address,
        /// `governance`, or `none` (immutable; the default).
        #[arg(long)]
        admin: Option<String>,
    },
    /// Call a contract method and wait for finality; exits non-zero if the call failed.
    Call {
        /// Contract address (hex).
        address: String,
        /// Method.
        method: String,
        /// Arguments (JSON).
        args: Option<String>,
        /// Account key file that signs.
        #[arg(long)]
        key: PathBuf,
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
        /// Gas limit: `auto` simulates the transaction first and allows what it used plus a
        /// fifth plus 20,000; or a number.
        #[arg(long, default_value = "auto")]
        gas: client::GasArg,
    },
    /// Upgrade a contract in place (admin only): its address and storage stay, the new
    /// code's `migrate` runs atomically; if it fails nothing changes.
    Migrate(MigrateArgs),
    /// Hand a contract's admin role to another account or governance, or give it up with
    /// `none` (the contract becomes immutable for good).
    SetAdmin {
        /// Contract address (hex).
        address: String,
        /// The new admin: an address, `self`, `governance`, or `none`.
        admin: String,
        /// Account key file that signs (the current admin).
        #[arg(long)]
        key: PathBuf,
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
        /// Gas limit: `auto` or a number.
        #[arg(long, default_value = "auto")]
        gas: client::GasArg,
    },
}

/// `phalanx tx migrate …` (a variant of [`TxCommand`]).
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Contract address (hex).
    pub address: String,
    /// The new code (its `#[migrate]` method runs in the same transaction).
    pub file: PathBuf,
    /// Arguments of `migrate` (JSON).
    #[arg(long)]
    pub args: Option<String>,
    /// The chain holds this code already (deployed before): send only its hash, which needs
    /// no deploy permission and no deploy gas.
    #[arg(long)]
    pub stored: bool,
    /// Account key file that signs (the contract's admin).
    #[arg(long)]
    pub key: PathBuf,
    /// Node RPC URL.
    #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
    pub rpc: String,
    /// Gas limit: a number, or `auto` (200,000,000: transactions bringing code are not
    /// simulated).
    #[arg(long, default_value = "auto")]
    pub gas: client::GasArg,
}

/// `phalanx keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new ed25519 account key (file mode 0600).
    New {
        /// Where to write it; refuses to overwrite.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a key's address, public key and peer id (never the secret; an encrypted key
    /// needs no passphrase for this).
    Show {
        /// The key file.
        file: PathBuf,
    },
    /// Seal a key file under a passphrase (Argon2id, XChaCha20-Poly1305), in place. The
    /// passphrase is asked twice on the terminal, or read from the file named by
    /// `PHALANX_KEY_PASSPHRASE_FILE`, which is also how a node started without a terminal
    /// gets it.
    Encrypt {
        /// The key file.
        file: PathBuf,
    },
}

/// Sets up `tracing` with RUST_LOG (default `info`).
pub fn init_logging(format: LogFormat) -> Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: a log file or journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<()> {
    let json = cli.output == OutputFormat::Json;
    match cli.command {
        Command::Keys(KeysCommand::New { out }) => keys::cmd_new(&out, json),
        Command::Keys(KeysCommand::Show { file }) => keys::cmd_show(&file, json),
        Command::Keys(KeysCommand::Encrypt { file }) => keys::cmd_encrypt(&file, json),
        Command::ShowNodeId { home } => keys::cmd_show_node_id(&home, json),
        Command::Genesis(cmd) => crate::maintain::cmd_genesis(&cmd, json),
        Command::UnsafeResetAll { home } => crate::maintain::cmd_unsafe_reset_all(&home, json),
        Command::Rollback { home } => crate::maintain::cmd_rollback(&home, json),
        Command::ShowValidator { home } => keys::cmd_show_validator(&home, json),
        Command::Config { home, action: None } => crate::config::cmd_show(&home, json),
        Command::Config {
            home,
            action: Some(crate::config::ConfigCommand::Set { key, value }),
        } => crate::config::cmd_set(&home, &key, &value, json),
        Command::Inspect { home, rpc } => crate::inspect::cmd_inspect(&home, rpc),
        Command::Signer(args) => crate::signer::cmd_signer(args),
        Command::Init { home, chain_id } => home::cmd_init(&home, &chain_id, json),
        Command::Testnet {
            validators,
            out,
            base_port,
            hosts,
            chain_id,
        } => {
            let layout = if hosts.is_empty() {
                home::Layout::Loopback { base_port }
            } else {
                home::Layout::Hosts(hosts)
            };
            home::cmd_testnet(validators, &out, &layout, &chain_id, json)
        }
        Command::Start {
            home,
            rpc,
            p2p,
            state_sync,
            #[cfg(feature = "byzantine")]
            byzantine,
        } => {
            #[cfg(not(feature = "byzantine"))]
            let byzantine = None;
            node::cmd_start(&home, rpc, p2p, state_sync, byzantine)
        }
        Command::Dev { home, rpc } => node::cmd_dev(&home, rpc),
        Command::Tx(TxCommand::Deploy {
            file,
            init,
            key,
            rpc,
            gas,
            admin,
        }) => client::cmd_deploy(
            &file,
            init.as_deref(),
            admin.as_deref(),
            &key,
            &rpc,
            gas,
            json,
        ),
        Command::Tx(TxCommand::Migrate(m)) => crate::upgrade::cmd_migrate(&m, json),
        Command::Tx(TxCommand::SetAdmin {
            address,
            admin,
            key,
            rpc,
            gas,
        }) => crate::upgrade::cmd_set_admin(&address, &admin, &key, &rpc, gas, json),
        Command::Tx(TxCommand::Call {
            address,
            method,
            args,
            key,
            rpc,
            gas,
        }) => client::cmd_call(&address, &method, args.as_deref(), &key, &rpc, gas, json),
        Command::Query {
            address,
            method,
            args,
            height,
            rpc,
        } => client::cmd_query(&address, &method, args.as_deref(), height, &rpc, json),
        Command::Status { rpc } => client::cmd_status(&rpc, json),
        Command::Gov(cmd) => crate::gov::run(cmd, json),
        Command::Snapshot(cmd) => crate::snapshot::run(cmd, json),
        Command::Contract(cmd) => crate::contract::run(cmd, json),
        Command::Bench {
            rpc,
            token,
            key,
            senders,
            duration,
            rate,
            workers,
            batch,
        } => bench::cmd_bench(
            &bench::BenchConfig {
                rpc,
                token,
                key,
                senders,
                duration,
                rate,
                workers,
                batch,
            },
            json,
        ),
        Command::Verify {
            address,
            key,
            height,
            genesis,
            rpc,
        } => client::cmd_verify(&address, &key, height, genesis.as_deref(), &rpc, json),
        Command::Block { height, rpc } => client::cmd_block(height, &rpc, json),
    }
}
