//! For the crash test of residents' messages: starts a server on a data
//! folder (seeding the demo), has the demo operative's phone say "no
//! access" at job 2, and runs the delivery worker against a Notify at the
//! given address. Run with `DOORSTEP_FAILPOINT=outbox-before-send:1`, it
//! dies after the change and its outbox rows were committed, before any
//! message went.
//!
//! `server-crasher <data folder> <notify url>`

use std::sync::Arc;

use anyhow::Context;
use automerge::AutoCommit;
use doorstep_server::FixedClock;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_server::notify::GovNotify;
use doorstep_server::notify::deliver_due;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{TestDevice, TestServer, test_now};

/// A Notify test key the stand-in in `tests/e2e/outbox.rs` accepts.
const NOTIFY_KEY: &str =
    "doorstep_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, notify] = args.as_slice() else {
        anyhow::bail!("usage: server-crasher <data folder> <notify url>");
    };
    let server = TestServer::start(data.as_ref()).await?;
    let mut phone =
        TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT).await?;
    phone.sync(&server, test_now()).await?;
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let action: Name = "no_access".parse()?;
    let mut logged = Ok(());
    phone.edit(
        DEMO_TENANT,
        DocumentId::Job(JobId::from_u128(0xd00_0002)),
        |doc: &mut AutoCommit| {
            logged = JobEditor::new(doc, me.clone()).and_then(|mut editor| {
                editor.log_action(
                    EventId::from_u128(100),
                    action.clone(),
                    Some("Card through the letterbox".into()),
                    test_now().plus_minutes(5),
                )
            });
        },
    )?;
    logged?;
    phone.sync(&server, test_now().plus_minutes(6)).await?;
    let provider = GovNotify::new(
        NOTIFY_KEY.parse().map_err(anyhow::Error::msg)?,
        "sms-template".into(),
        "email-template".into(),
        notify,
        Arc::new(FixedClock(test_now())),
    )?;
    deliver_due(&server.state, &provider, test_now().plus_minutes(20))
        .await
        .context("delivering")?;
    Ok(())
}
