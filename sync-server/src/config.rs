//! The server's settings: command-line flags, each also readable from a
//! `DOORSTEP_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

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

    /// Folder of a council's own service definitions (*.toml), added to the
    /// built-in ones.
    #[arg(long, env = "DOORSTEP_SERVICES_DIR")]
    pub services_dir: Option<PathBuf>,

    /// Write demo jobs and a waste round on first start (empty database).
    #[arg(long, env = "DOORSTEP_DEMO")]
    pub demo: bool,
}

impl Config {
    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("doorstep.db")
    }
}
