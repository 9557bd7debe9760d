//! `doorstep-server`: reads the configuration, opens the database, seeds the
//! demo if asked, and serves until Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use doorstep_server::blobs::{self, Blobs};
use doorstep_server::config::{Command, Config};
use doorstep_server::layout::{Branding, Logo};
use doorstep_server::store::Store;
use doorstep_server::store::postgres::PgStore;
use doorstep_server::{AppState, Clock, SqliteStore, SystemClock, demo, secrets, serve};
use doorstep_shared::ids::{TeamId, TenantId, UserId};
use doorstep_shared::time::Timestamp;
use tracing_subscriber::EnvFilter;

fn main() {
    if let Err(error) = run() {
        eprintln!("doorstep-server: {error:#}");
        std::process::exit(1);
    }
}

/// Opens and seeds the store before the async runtime starts: the stores
/// block, and the PostgreSQL client may not block on an async thread.
fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let config = Config::load()?;
    let services = doorstep_server::services::load(config.services_dir.as_deref())?;

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("could not create {}", config.data_dir.display()))?;
    let (store, database): (Arc<dyn Store>, String) = match &config.database_url {
        Some(url) => (
            Arc::new(
                PgStore::connect(url, None).context("could not open the PostgreSQL database")?,
            ),
            "PostgreSQL".into(),
        ),
        None => {
            let path = config.database_path();
            let store = SqliteStore::open(&path)
                .with_context(|| format!("could not open {}", path.display()))?;
            (Arc::new(store), path.display().to_string())
        }
    };
    let clock = Arc::new(SystemClock);
    let location = config.blob_location();
    let blobs = Blobs::open(&location, config.max_photo_bytes)
        .with_context(|| format!("could not open the photo store {location:?}"))?;

    if let Some(command) = config.command.clone() {
        let printed = administer(store.as_ref(), command, clock.now())?;
        #[allow(clippy::print_stdout)]
        {
            println!("{printed}");
        }
        return Ok(());
    }

    // What the demo prints once it is listening: the back office's sign-in
    // (a fresh password each start) and the phones' enrolment codes.
    let mut demo_banner = None;
    if config.demo {
        let actor = doorstep_server::state::node_actor(&config.node);
        let seeded = demo::seed_if_empty(
            store.as_ref(),
            &services,
            &actor,
            clock.now(),
            secrets::enrolment_code,
        )?;
        let password = secrets::enrolment_code()?;
        let email = demo::set_dispatcher_password(store.as_ref(), &password)?;
        demo_banner = Some((email, password, seeded.unwrap_or_default()));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("could not listen on {}", config.listen))?;
        tracing::info!(
            address = %listener.local_addr()?,
            database = %database,
            services = services.len(),
            "Doorstep is serving: open http://{}/",
            listener.local_addr()?
        );
        if let Some((email, password, logins)) = &demo_banner {
            let address = listener.local_addr()?;
            let mut banner = format!(
                "\nDoorstep demo is ready.\n\n  Back office   http://{address}/office/sign-in\n    email       {email}\n    password    {password}\n\n  Residents     http://{address}/report\n  Phone app     http://{address}/app/\n"
            );
            for login in logins {
                banner.push_str(&format!(
                    "    enrolment code for {} ({}): {}\n",
                    login.name, login.role, login.code
                ));
            }
            #[allow(clippy::print_stdout)]
            {
                println!("{banner}");
            }
        }
        let state = AppState::new(store, blobs, services, clock)
            .with_node(&config.node)
            .with_admin_token(config.admin_token.clone())
            .with_web_app(config.web_app_folder())
            .with_demo_pages(config.demo)
            .with_booking_capacity(config.booking_capacity)
            .with_branding(Branding {
                colour: config.brand_colour.clone(),
                logo: config.council_logo.as_deref().map(Logo::read).transpose()?,
            })
            .with_notify_callback_token(config.notify_callback_token.clone())
            .with_public_url(
                &config
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}", config.listen)),
            );
        if config.demo {
            show_resident_pages(&state).await?;
        }
        tokio::spawn(housekeeping(state.clone(), config.contact_retention_days));
        tokio::spawn(deliver_messages(
            state.clone(),
            provider(&config, Arc::new(SystemClock))?,
        ));
        serve(listener, state, shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// Texts through GOV.UK Notify when a key is set, emails through the
/// council's SMTP server when one is set (else Notify); whatever is left
/// goes to the demo outbox (which records messages for `/demo/outbox`).
fn provider(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn doorstep_server::outbox::Provider>> {
    use doorstep_server::outbox::{ByChannel, DemoProvider, Provider};

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
            Some(Arc::new(doorstep_server::gov_notify::GovNotify::new(
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
            Some(Arc::new(doorstep_server::smtp::SmtpEmail::new(url, from)?))
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

/// Logs where a demo's visitor finds the residents' pages, with a fresh
/// tracking link to a reported repair waiting for an appointment.
async fn show_resident_pages(state: &AppState) -> anyhow::Result<()> {
    let base = state.public_url().to_owned();
    let token = doorstep_server::tracking::issue(
        state,
        demo::DEMO_TENANT,
        demo::DEMO_WAITING_JOB,
        state.clock().now(),
    )
    .await
    .map_err(|error| anyhow::anyhow!("could not make a demo tracking link: {error}"))?;
    tracing::info!(
        "residents: report a repair at {base}/report, a missed bin at {base}/missed-bin"
    );
    tracing::info!("residents: follow HR-00004 (reported, not booked) at {base}/track/{token}");
    Ok(())
}

/// Every ten seconds: sends residents' messages as they fall due, and
/// answers missed-bin reports whose rounds have since finished.
async fn deliver_messages(state: AppState, provider: Arc<dyn doorstep_server::outbox::Provider>) {
    let provider = provider.as_ref();
    let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        every.tick().await;
        let now = state.clock().now();
        match doorstep_server::outbox::deliver_due(&state, provider, now).await {
            Ok(done) if done == Default::default() => {}
            Ok(done) => tracing::info!(
                sent = done.sent,
                skipped = done.skipped,
                retried = done.retried,
                held = done.held,
                failed = done.failed,
                "residents' messages"
            ),
            Err(error) => tracing::warn!(%error, "could not deliver residents' messages"),
        }
        match doorstep_server::missed_bins::check_waiting(&state, now).await {
            Ok(0) => {}
            Ok(checked) => tracing::info!(
                checked,
                "missed-bin reports checked against finished rounds"
            ),
            Err(error) => tracing::warn!(%error, "could not check missed-bin reports"),
        }
    }
}

/// Hourly: uploads left unfinished for a week are thrown away, and
/// residents' contact details past their retention are erased.
async fn housekeeping(state: AppState, contact_days: u32) {
    const WEEK_MS: i64 = 7 * 24 * 60 * 60 * 1000;
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(60 * 60));
    loop {
        hourly.tick().await;
        let now = state.clock().now();
        match blobs::prune_stale_uploads(&state, now.plus_millis(-WEEK_MS)).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "threw away unfinished photo uploads"),
            Err(error) => tracing::warn!(%error, "could not prune unfinished photo uploads"),
        }
        match doorstep_server::retention::erase_expired_contacts(&state, contact_days, now).await {
            Ok(0) => {}
            Ok(erased) => tracing::info!(erased, "erased residents' contact details"),
            Err(error) => tracing::warn!(%error, "could not erase expired contact details"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Runs an administrative command on the store; returns what to print.
fn administer(store: &dyn Store, command: Command, now: Timestamp) -> anyhow::Result<String> {
    let random = || secrets::new_device().map(|(device, _)| *device.as_uuid().as_bytes());
    Ok(match command {
        Command::Enrol { user, device } => {
            let code = secrets::enrolment_code()?;
            store
                .create_enrolment(&code, user, device, now.plus_minutes(7 * 24 * 60))
                .context("could not issue the code (is the user id right?)")?;
            code
        }
        Command::AddTenant { name, id } => {
            let id = match id {
                Some(id) => id,
                None => TenantId::from_random_bytes(random()?),
            };
            store.put_tenant(id, &name)?;
            id.to_string()
        }
        Command::AddUser {
            name,
            role,
            tenants,
            id,
        } => {
            let id = match id {
                Some(id) => id,
                None => UserId::from_random_bytes(random()?),
            };
            store
                .create_user(id, &name, role, &tenants)
                .context("could not add the user (do the councils exist?)")?;
            id.to_string()
        }
        Command::AddTeam {
            name,
            tenant,
            members,
            id,
        } => {
            let id = match id {
                Some(id) => id,
                None => TeamId::from_random_bytes(random()?),
            };
            store
                .create_team(id, tenant, &name, &members)
                .context("could not add the team (do the council and members exist?)")?;
            id.to_string()
        }
        Command::AddAdmin {
            user,
            email,
            tenant,
        } => {
            let email = email.trim().to_lowercase();
            email
                .parse::<doorstep_shared::contact::EmailAddress>()
                .map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
            let password = secrets::enrolment_code()?;
            let hash = doorstep_server::staff::hash_password(&password)
                .map_err(|_| anyhow::anyhow!("could not hash the password"))?;
            store
                .put_staff_account(user, &email, &hash)
                .context("could not add the sign-in (is the user id right, the email free?)")?;
            store.grant_staff_role(
                user,
                tenant,
                doorstep_server::store::staff::StaffRole::Admin,
            )?;
            password
        }
    })
}
