//! The server's settings, in layers: built-in defaults, then a TOML file
//! (`--config`), then `DOORSTEP_*` environment variables, then flags. The
//! file uses the flags' names with underscores (`data_dir = "/var/lib/doorstep"`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use doorstep_shared::service::ServiceCatalog;

use crate::clock::Clock;
use crate::notify::{ByChannel, DemoProvider, Provider};
use crate::pages::{Branding, Logo};
use crate::photos::{BlobLocation, Blobs};
use crate::secrets::{Hidden, Secret};
use crate::state::AppState;
use crate::store::Store;
use crate::throttle::RateLimits;
use crate::workers::Workers;

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
    pub database_url: Option<Hidden>,

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
    pub notify_api_key: Option<crate::notify::gov_notify::NotifyKey>,

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
    pub smtp_url: Option<Hidden>,

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
    pub brand_colour: crate::pages::layout::BrandColour,

    /// The council's logo for residents' pages: a PNG, JPEG or SVG file
    /// (up to 512 KiB), shown before the council's name.
    #[arg(long, env = "DOORSTEP_COUNCIL_LOGO")]
    pub council_logo: Option<PathBuf>,

    /// Days a resident's contact details are kept after their job closes;
    /// then they are erased, with the addresses and texts of the messages
    /// sent to them.
    #[arg(long, env = "DOORSTEP_CONTACT_RETENTION_DAYS", default_value_t = crate::residents::retention::DEFAULT_CONTACT_DAYS)]
    pub contact_retention_days: u32,

    /// The Notify API's address.
    #[arg(long, env = "DOORSTEP_NOTIFY_BASE_URL", default_value = crate::notify::gov_notify::DEFAULT_BASE_URL)]
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

    /// Proxies in front of the server (comma-separated addresses) whose
    /// `X-Forwarded-For` names the client for the rate limits; anyone
    /// else's is ignored.
    #[arg(long, env = "DOORSTEP_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,

    /// Sign-in attempts per minute from one address.
    #[arg(long, env = "DOORSTEP_RATE_SIGN_IN", default_value_t = RateLimits::default().sign_in)]
    pub rate_sign_in: u32,

    /// Enrolment codes tried per minute from one address.
    #[arg(long, env = "DOORSTEP_RATE_ENROLMENT", default_value_t = RateLimits::default().enrolment)]
    pub rate_enrolment: u32,

    /// Repairs reported per minute from one address.
    #[arg(long, env = "DOORSTEP_RATE_REPORT", default_value_t = RateLimits::default().report)]
    pub rate_report: u32,

    /// Missed bins reported per minute from one address.
    #[arg(long, env = "DOORSTEP_RATE_MISSED_BIN", default_value_t = RateLimits::default().missed_bin)]
    pub rate_missed_bin: u32,

    /// Tracking pages opened per minute from one address.
    #[arg(long, env = "DOORSTEP_RATE_TRACKING", default_value_t = RateLimits::default().tracking)]
    pub rate_tracking: u32,

    /// Photo bytes one phone may upload a day (UTC).
    #[arg(long, env = "DOORSTEP_UPLOAD_QUOTA_BYTES", default_value_t = RateLimits::default().upload_bytes_per_day)]
    pub upload_quota_bytes: u64,

    /// Token for the admin API (`Authorization: Bearer …`); the admin API is
    /// off without it. At least 16 characters.
    #[arg(long, env = "DOORSTEP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// A TOML file of settings, under environment variables and flags.
    #[arg(long, env = "DOORSTEP_CONFIG")]
    pub config: Option<PathBuf>,

    /// What to do; without a command, serve.
    #[command(subcommand)]
    pub command: Option<crate::admin::Command>,
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
        Self::load_from(std::env::args_os())
    }

    /// [`Config::load`] from these arguments (the program's name first).
    /// Every setting is declared once, above: a file's `data_dir = "…"` is
    /// the flag `--data-dir`'s default, under its environment variable and
    /// the flag itself.
    pub fn load_from(
        args: impl IntoIterator<Item = std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        use clap::{CommandFactory, FromArgMatches};

        let args: Vec<std::ffi::OsString> = args.into_iter().collect();
        let parsed = |command: clap::Command| {
            command
                .try_get_matches_from(&args)
                .and_then(|matches| Self::from_arg_matches(&matches))
        };
        let config = parsed(Self::command()).unwrap_or_else(|error| error.exit());
        let Some(path) = config.config.clone() else {
            return Ok(config);
        };
        let shown = path.display().to_string();
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: toml::Table =
            toml::from_str(&text).map_err(|error| invalid(error.to_string()))?;
        let mut command = Self::command();
        for (key, value) in file {
            let known = command
                .get_arguments()
                .any(|arg| arg.get_id() == key.as_str() && arg.get_long().is_some());
            if !known || key == "config" {
                return Err(invalid(format!("there is no setting `{key}`")));
            }
            let text = match value {
                toml::Value::String(text) => text,
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Boolean(on) => on.to_string(),
                _ => {
                    return Err(invalid(format!(
                        "`{key}` must be text, a number or true/false"
                    )));
                }
            };
            command = command.mut_arg(key, |arg| arg.default_value(text));
        }
        parsed(command).map_err(|error| invalid(error.to_string()))
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

    /// Opens the store the settings name: PostgreSQL if a URL is set, else
    /// the SQLite file in the data folder (created with it if missing).
    pub fn open_store(&self) -> anyhow::Result<(Arc<Store>, String)> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("could not create {}", self.data_dir.display()))?;
        Ok(match &self.database_url {
            Some(url) => (
                Arc::new(
                    Store::connect_postgres(url.expose(), None)
                        .context("could not open the PostgreSQL database")?,
                ),
                "PostgreSQL".into(),
            ),
            None => {
                let path = self.database_path();
                let store = Store::open_sqlite(&path)
                    .with_context(|| format!("could not open {}", path.display()))?;
                (Arc::new(store), path.display().to_string())
            }
        })
    }

    /// Opens the photo store the settings name.
    pub fn open_blobs(&self) -> anyhow::Result<Blobs> {
        let location = self.blob_location();
        Blobs::open(&location, self.max_photo_bytes)
            .with_context(|| format!("could not open the photo store {location:?}"))
    }

    /// The server's state as the settings make it, with its workers.
    pub fn state(
        &self,
        store: Arc<Store>,
        services: ServiceCatalog,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<AppState> {
        let workers = Workers::new(
            self.provider(Arc::clone(&clock))?,
            self.contact_retention_days,
        );
        let public_url =
            (self.public_url.clone()).unwrap_or_else(|| format!("http://{}", self.listen));
        Ok(AppState::new(store, self.open_blobs()?, services, clock)
            .with_node(&self.node)
            .with_admin_token(self.admin_token.clone())
            .with_web_app(self.web_app_folder())
            .with_demo_pages(self.demo)
            .with_booking_capacity(self.booking_capacity)
            .with_branding(Branding {
                colour: self.brand_colour.clone(),
                logo: self.council_logo.as_deref().map(Logo::read).transpose()?,
            })
            .with_notify_callback_token(self.notify_callback_token.clone())
            .with_public_url(&public_url)
            .with_rate_limits(
                RateLimits {
                    sign_in: self.rate_sign_in,
                    enrolment: self.rate_enrolment,
                    report: self.rate_report,
                    missed_bin: self.rate_missed_bin,
                    tracking: self.rate_tracking,
                    upload_bytes_per_day: self.upload_quota_bytes,
                },
                self.trusted_proxy.clone(),
            )
            .with_workers(workers))
    }

    /// Texts through GOV.UK Notify when a key is set, emails through the
    /// council's SMTP server when one is set (else Notify); whatever is left
    /// goes to the demo outbox (which records messages for `/demo/outbox`).
    pub fn provider(&self, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<dyn Provider>> {
        let config = self;

        let demo: Arc<dyn Provider> = Arc::new(DemoProvider::default());
        let notify: Option<Arc<dyn Provider>> = match config.notify_api_key.clone() {
            None => None,
            Some(key) => {
                let (Some(sms), Some(email)) = (
                    config.notify_sms_template.clone(),
                    config.notify_email_template.clone(),
                ) else {
                    anyhow::bail!(
                        "with a Notify API key, set --notify-sms-template and --notify-email-template \
                         (Notify templates whose content is ((subject)) and ((body)))"
                    );
                };
                Some(Arc::new(crate::notify::GovNotify::new(
                    key,
                    sms,
                    email,
                    &config.notify_base_url,
                    clock,
                )?))
            }
        };
        let smtp: Option<Arc<dyn Provider>> = match (&config.smtp_url, &config.smtp_from) {
            (None, _) => None,
            (Some(_), None) => anyhow::bail!("with --smtp-url, set --smtp-from too"),
            (Some(url), Some(from)) => {
                Some(Arc::new(crate::notify::SmtpEmail::new(url.expose(), from)?))
            }
        };
        let sms = notify.clone().unwrap_or_else(|| Arc::clone(&demo));
        let email = smtp.or(notify).unwrap_or(demo);
        tracing::info!(
            texts = if config.notify_api_key.is_some() {
                "GOV.UK Notify"
            } else {
                "demo outbox"
            },
            emails = if config.smtp_url.is_some() {
                "SMTP"
            } else if config.notify_api_key.is_some() {
                "GOV.UK Notify"
            } else {
                "demo outbox"
            },
            "residents' messages"
        );
        Ok(Arc::new(ByChannel { sms, email }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str, flags: &[&str]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorstep.toml");
        std::fs::write(&path, file).unwrap();
        let mut args = vec![
            "doorstep-server".into(),
            "--config".into(),
            path.into_os_string(),
        ];
        args.extend(flags.iter().map(Into::into));
        Config::load_from(args)
    }

    #[test]
    fn every_setting_can_come_from_the_file_under_its_flag() {
        let file = "booking_capacity = 7\ncontact_retention_days = 30\nbrand_colour = \"#005ea5\"\n\
                    smtp_url = \"smtps://mail:hunter2@mail.example.org\"\nsmtp_from = \"council@example.org\"\n\
                    database_url = \"postgres://doorstep:hunter2@db/doorstep\"\ndemo = true\n";
        let config = load(file, &[]).unwrap();
        assert_eq!(config.booking_capacity, 7);
        assert_eq!(config.contact_retention_days, 30);
        assert!(config.demo);
        assert_eq!(
            config.smtp_url.as_ref().map(Hidden::expose),
            Some("smtps://mail:hunter2@mail.example.org")
        );
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");

        let flagged = load(file, &["--booking-capacity", "9"]).unwrap();
        assert_eq!(flagged.booking_capacity, 9, "the flag wins over the file");
    }

    #[test]
    fn a_file_naming_no_setting_or_a_bad_value_is_refused_with_its_name() {
        let unknown = load("lisen = \"127.0.0.1:0\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("doorstep.toml is not valid"), "{unknown}");
        assert!(unknown.contains("lisen"), "{unknown}");
        let bad = load("booking_capacity = \"many\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("booking-capacity"), "{bad}");
        let nested = load("[listen]\nport = 1\n", &[]).unwrap_err().to_string();
        assert!(nested.contains("listen"), "{nested}");
    }
}
