//! The server's settings: command-line flags, each also readable from a
//! `DOORSTEP_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use doorstep_shared::ids::{DeviceId, UserId};

use crate::secrets::Secret;

/// Doorstep's sync server.
#[derive(Debug, Clone, Parser)]
#[command(name = "doorstep-server", version, about)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "DOORSTEP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder for the database (and, later, photos). Created if missing.
    #[arg(long, env = "DOORSTEP_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// PostgreSQL to store everything in, instead of the SQLite file in the
    /// data folder (a libpq string or a `postgres://` URL).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Folder of a council's own service definitions (*.toml), added to the
    /// built-in ones.
    #[arg(long, env = "DOORSTEP_SERVICES_DIR")]
    pub services_dir: Option<PathBuf>,

    /// Write demo jobs, people and a waste round on first start (empty
    /// database), and print enrolment codes for the demo people.
    #[arg(long, env = "DOORSTEP_DEMO")]
    pub demo: bool,

    /// This server node's name. Every node sharing a database needs its own:
    /// its Automerge actor id is derived from it.
    #[arg(long, env = "DOORSTEP_NODE", default_value = "node-1")]
    pub node: String,

    /// Token for the admin API (`Authorization: Bearer …`); the admin API is
    /// off without it. At least 16 characters.
    #[arg(long, env = "DOORSTEP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// What to do; without a command, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands other than serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a one-time code that enrols a phone for a user.
    Enrol {
        /// The user.
        #[arg(long)]
        user: UserId,
        /// Re-enrol this (revoked) device, keeping its actor id.
        #[arg(long)]
        device: Option<DeviceId>,
    },
}

impl Config {
    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("doorstep.db")
    }
}
