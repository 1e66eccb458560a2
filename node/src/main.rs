//! `phalanx`: the Phalanx node and its command-line client.

mod abicheck;
mod api;
mod bench;
#[cfg(feature = "byzantine")]
mod byzantine;
mod cli;
mod client;
mod config;
mod contract;
mod fsutil;
mod gov;
mod home;
mod inspect;
mod keycrypt;
mod keys;
mod maintain;
mod node;
mod p2p;
mod pruning;
mod scaffold;
mod service;
mod signer;
mod snapfile;
mod snapshot;
mod snapshots;
mod statesync;
mod upgrade;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if let Err(e) = cli::init_logging(cli.log_format) {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::from(2);
    }
    match cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
