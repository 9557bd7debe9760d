//! For the crash test (`tests/e2e/crash.rs`): a server on a fixed address
//! over a data folder (SQLite) or a PostgreSQL schema, seeding the demo on
//! its first start, serving until it is killed. On a first start it
//! prints the demo's enrolment codes and three more for the demo
//! operative's phones (`code <name> <code>`); then `ready`.
//!
//! `crash-server <data folder> <address> [<postgres url> <schema>]`

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;

use doorstep_server::demo::DEMO_OPERATIVE;
use doorstep_server::store::Store;
use doorstep_tests::{ServerOptions, TestServer, test_now};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (data, address, postgres) = match args.as_slice() {
        [_, data, address] => (data, address, None),
        [_, data, address, url, schema] => (data, address, Some((url, schema))),
        _ => anyhow::bail!("usage: crash-server <data folder> <address> [<postgres url> <schema>]"),
    };
    let listen: SocketAddr = address.parse()?;
    let options = ServerOptions {
        listen: Some(listen),
        ..ServerOptions::default()
    };
    let server = match postgres {
        None => TestServer::start_at(data.as_ref(), options).await?,
        Some((url, schema)) => {
            let (url, schema) = (url.clone(), schema.clone());
            let store =
                tokio::task::spawn_blocking(move || Store::connect_postgres(&url, Some(&schema)))
                    .await??;
            TestServer::start_with_options(
                Arc::new(store),
                TestServer::photo_folder(data.as_ref())?,
                options,
            )
            .await?
        }
    };
    if !server.logins.is_empty() {
        for login in &server.logins {
            println!("code {} {}", login.name, login.code);
        }
        let expires = test_now().plus_minutes(7 * 24 * 60);
        let codes = server
            .state
            .with_store(move |store| {
                let mut codes = Vec::new();
                for n in 1..=3 {
                    let code = format!("CRASH-PHONE-{n}");
                    store.create_enrolment(&code, DEMO_OPERATIVE, None, expires)?;
                    codes.push(code);
                }
                Ok(codes)
            })
            .await?;
        for code in codes {
            println!("code phone {code}");
        }
    }
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}
