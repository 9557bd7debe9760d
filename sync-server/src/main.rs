//! `doorstep-server`: reads the settings, opens the store, runs an
//! administrator's command or seeds the demo if asked, and serves until
//! Ctrl-C or SIGTERM. Everything else lives in the library.

use std::sync::Arc;

use anyhow::Context;
use doorstep_server::config::Config;
use doorstep_server::demo::{Welcome, show_resident_pages};
use doorstep_server::{Clock, SystemClock, admin, serve, stop_signal};
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
    let (store, database) = config.open_store()?;
    let clock = Arc::new(SystemClock);
    if let Some(command) = config.command.clone() {
        config.open_blobs()?;
        let printed = admin::run(store.as_ref(), command, clock.now())?;
        #[allow(clippy::print_stdout)]
        {
            println!("{printed}");
        }
        return Ok(());
    }
    let welcome = (config.demo)
        .then(|| Welcome::prepare(store.as_ref(), &services, &config.node, clock.now()))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async {
        let count = services.len();
        let state = config.state(store, services, clock)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("could not listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, %database, services = count, "Doorstep is serving: open http://{address}/");
        if let Some(welcome) = &welcome {
            #[allow(clippy::print_stdout)]
            {
                println!("{}", welcome.banner(address));
            }
            show_resident_pages(&state).await?;
        }
        serve(listener, state, stop_signal()).await?;
        anyhow::Ok(())
    })?;
    tracing::info!("stopped");
    Ok(())
}
