//! `promptvault`: private prompts in one local, encrypted vault file.
//!
//! A thin shell over the `promptvault` crate: it locks the vault file,
//! reads and unlocks it, checks it against what this device saw before,
//! calls one vault operation, and writes the returned changeset back
//! atomically. Everything cryptographic happens in the crate.
//!
//! [`cli`] declares the command line, [`commands`] runs each command (one
//! module per group of commands), and the other modules are the helpers
//! the groups share.

mod cli;
mod clock;
mod commands;
mod fail;
mod files;
mod input;
mod lock;
mod output;
mod remote;
mod secrets;
mod seen_state;
mod session;
mod sharing;
mod side_file;
mod sync_cache;
mod term;
mod vault_file;
mod views;

use std::io::Write;

use clap::Parser;

use cli::Cli;
use fail::Kind;

/// Parses the command line, runs the command, and turns its failure into
/// a message on stderr and an exit code.
fn main() {
    let cli = Cli::parse();
    let path = cli.vault.clone().unwrap_or_else(vault_file::default_path);
    let mut out = std::io::stdout().lock();
    if let Err(f) = commands::run(cli.command, &path, cli.accept_rollback, &mut out) {
        let _ = out.flush();
        if f.broken_pipe {
            std::process::exit(0);
        }
        eprintln!("promptvault: {}", f.message);
        std::process::exit(f.kind as i32);
    }
    if let Err(e) = out.flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("promptvault: writing output: {e}");
            std::process::exit(Kind::Io as i32);
        }
    }
}
