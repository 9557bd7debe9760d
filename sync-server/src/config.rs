//! The server's settings, in layers: built-in defaults, then a TOML file
//! (`--config`), then `DOORSTEP_*` environment variables, then flags. The
//! file uses the flags' names with underscores (`data_dir = "/var/lib/doorstep"`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use doorstep_shared::ids::{DeviceId, TeamId, TenantId, UserId};
use doorstep_shared::transition::Role;

use crate::blobs::BlobLocation;
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

    /// Where photos are kept: a folder, or `s3://bucket/prefix` for
    /// S3-compatible storage (credentials, region and endpoint from the
    /// usual `AWS_*` variables). Default: `photos` in the data folder.
    #[arg(long, env = "DOORSTEP_BLOB_STORE")]
    pub blob_store: Option<BlobLocation>,

    /// The largest photo file accepted, in bytes.
    #[arg(long, env = "DOORSTEP_MAX_PHOTO_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_photo_bytes: u64,

    /// The address residents reach this server at, for the links in their
    /// messages (default: `http://` and the listen address).
    #[arg(long, env = "DOORSTEP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// GOV.UK Notify API key for residents' texts and emails (test, team or
    /// live). Without it, messages go to the demo outbox.
    #[arg(long, env = "DOORSTEP_NOTIFY_API_KEY", hide_env_values = true)]
    pub notify_api_key: Option<crate::gov_notify::NotifyKey>,

    /// The Notify SMS template whose content is `((body))`.
    #[arg(long, env = "DOORSTEP_NOTIFY_SMS_TEMPLATE")]
    pub notify_sms_template: Option<String>,

    /// The Notify email template whose subject is `((subject))` and body
    /// `((body))`.
    #[arg(long, env = "DOORSTEP_NOTIFY_EMAIL_TEMPLATE")]
    pub notify_email_template: Option<String>,

    /// The bearer token Notify's delivery-status callbacks carry (set in
    /// Notify's callback settings); callbacks are refused without it.
    #[arg(long, env = "DOORSTEP_NOTIFY_CALLBACK_TOKEN", hide_env_values = true)]
    pub notify_callback_token: Option<Secret>,

    /// An SMTP server for residents' emails, which then show the photos
    /// inline: `smtps://user:password@host`, `smtp://host:587?tls=required`.
    #[arg(long, env = "DOORSTEP_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The address emails are sent from, with `--smtp-url`.
    #[arg(long, env = "DOORSTEP_SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// Jobs one crew (a team, or an operative working alone) takes per
    /// half-day, when the server books appointments.
    #[arg(long, env = "DOORSTEP_BOOKING_CAPACITY", default_value_t = 4)]
    pub booking_capacity: u32,

    /// The council's colour for the header of residents' pages, `#rrggbb`;
    /// it must keep white text readable.
    #[arg(long, env = "DOORSTEP_BRAND_COLOUR", default_value = "#1d70b8")]
    pub brand_colour: crate::layout::BrandColour,

    /// The council's logo for residents' pages: a PNG, JPEG or SVG file
    /// (up to 512 KiB), shown before the council's name.
    #[arg(long, env = "DOORSTEP_COUNCIL_LOGO")]
    pub council_logo: Option<PathBuf>,

    /// Days a resident's contact details are kept after their job closes;
    /// then they are erased, with the addresses and texts of the messages
    /// sent to them.
    #[arg(long, env = "DOORSTEP_CONTACT_RETENTION_DAYS", default_value_t = crate::retention::DEFAULT_CONTACT_DAYS)]
    pub contact_retention_days: u32,

    /// The Notify API's address.
    #[arg(long, env = "DOORSTEP_NOTIFY_BASE_URL", default_value = crate::gov_notify::DEFAULT_BASE_URL)]
    pub notify_base_url: String,

    /// Folder of the operative app's browser build, served at `/app/`.
    /// Default: `web-app` in the build folder the server binary is in
    /// (where `scripts/build-web.sh` puts it).
    #[arg(long, env = "DOORSTEP_WEB_APP")]
    pub web_app: Option<PathBuf>,

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

    /// A TOML file of settings, under environment variables and flags.
    #[arg(long, env = "DOORSTEP_CONFIG")]
    pub config: Option<PathBuf>,

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
    /// Add a council (or rename one); prints its id.
    AddTenant {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its id; a new one if not given.
        #[arg(long)]
        id: Option<TenantId>,
    },
    /// Add a person working for one or more councils; prints their id.
    AddUser {
        /// Their name.
        #[arg(long)]
        name: String,
        /// operative, crew or dispatcher.
        #[arg(long)]
        role: Role,
        /// A council they work for (repeat for several).
        #[arg(long = "tenant", required = true)]
        tenants: Vec<TenantId>,
        /// Their id; a new one if not given.
        #[arg(long)]
        id: Option<UserId>,
    },
    /// Add a team (or crew) of a council with its members; prints its id.
    AddTeam {
        /// Its name.
        #[arg(long)]
        name: String,
        /// The council.
        #[arg(long)]
        tenant: TenantId,
        /// A member (repeat for several).
        #[arg(long = "member")]
        members: Vec<UserId>,
        /// Its id; a new one if not given.
        #[arg(long)]
        id: Option<TeamId>,
    },
    /// Give a user a back-office sign-in as a council's administrator (or
    /// a new password); prints the password, shown only this once.
    AddAdmin {
        /// The user (see `add-user`).
        #[arg(long)]
        user: UserId,
        /// Their email address, to sign in with.
        #[arg(long)]
        email: String,
        /// The council they administer.
        #[arg(long)]
        tenant: TenantId,
    },
}

/// The settings a file may hold.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    services_dir: Option<PathBuf>,
    web_app: Option<PathBuf>,
    public_url: Option<String>,
    blob_store: Option<String>,
    max_photo_bytes: Option<u64>,
    demo: Option<bool>,
    node: Option<String>,
    admin_token: Option<String>,
}

/// The settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read the settings file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("the settings file {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
}

impl Config {
    /// Reads flags and environment, then fills what neither set from the
    /// settings file, if one is named.
    pub fn load() -> Result<Self, ConfigError> {
        use clap::{CommandFactory, FromArgMatches, parser::ValueSource};

        let matches = Self::command().get_matches();
        let mut config = match Self::from_arg_matches(&matches) {
            Ok(config) => config,
            Err(error) => error.exit(),
        };
        let Some(path) = config.config.clone() else {
            return Ok(config);
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: FileConfig = toml::from_str(&text).map_err(|error| ConfigError::Invalid {
            path: shown.clone(),
            message: error.to_string(),
        })?;
        let unset = |id: &str| {
            !matches!(
                matches.value_source(id),
                Some(ValueSource::EnvVariable | ValueSource::CommandLine)
            )
        };
        if let (true, Some(listen)) = (unset("listen"), file.listen) {
            config.listen = listen;
        }
        if let (true, Some(data_dir)) = (unset("data_dir"), file.data_dir) {
            config.data_dir = data_dir;
        }
        if let (true, Some(url)) = (unset("database_url"), file.database_url) {
            config.database_url = Some(url);
        }
        if let (true, Some(dir)) = (unset("services_dir"), file.services_dir) {
            config.services_dir = Some(dir);
        }
        if let (true, Some(url)) = (unset("public_url"), file.public_url) {
            config.public_url = Some(url);
        }
        if let (true, Some(dir)) = (unset("web_app"), file.web_app) {
            config.web_app = Some(dir);
        }
        if let (true, Some(location)) = (unset("blob_store"), file.blob_store) {
            config.blob_store = Some(location.parse().map_err(|message| ConfigError::Invalid {
                path: shown.clone(),
                message: format!("blob_store: {message}"),
            })?);
        }
        if let (true, Some(max)) = (unset("max_photo_bytes"), file.max_photo_bytes) {
            config.max_photo_bytes = max;
        }
        if let (true, Some(demo)) = (unset("demo"), file.demo) {
            config.demo = demo;
        }
        if let (true, Some(node)) = (unset("node"), file.node) {
            config.node = node;
        }
        if let (true, Some(token)) = (unset("admin_token"), file.admin_token) {
            config.admin_token = Some(token.parse().map_err(|message| ConfigError::Invalid {
                path: shown,
                message: format!("admin_token {message}"),
            })?);
        }
        Ok(config)
    }

    /// Where photos are kept.
    pub fn blob_location(&self) -> BlobLocation {
        self.blob_store
            .clone()
            .unwrap_or_else(|| BlobLocation::Folder(self.data_dir.join("photos")))
    }

    /// Where the browser app's build is: as set, or `web-app` beside the
    /// `debug`/`release` folder holding this binary.
    pub fn web_app_folder(&self) -> Option<PathBuf> {
        self.web_app.clone().or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("web-app"))
        })
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("doorstep.db")
    }
}
