//! For the crash test of a jobs import: starts a server on a data folder
//! (seeding the demo), signs in to the back office as the demo's
//! administrator and imports three jobs from a CSV file. Run with
//! `DOORSTEP_FAILPOINT=intake-between-jobs:2`, it dies after the first
//! job was written and before the import's transaction commits.
//!
//! `import-crasher <data folder>`

use anyhow::Context;
use doorstep_server::demo::DEMO_DISPATCHER_EMAIL;
use doorstep_tests::{STAFF_PASSWORD, TestServer};

/// The file imported: three good rows.
pub const CSV: &str = "service,address\n\
    housing-repair,\"1 Crash Close, Worthing, BN11 1AA\"\n\
    housing-repair,\"2 Crash Close, Worthing, BN11 1AA\"\n\
    housing-repair,\"3 Crash Close, Worthing, BN11 1AA\"\n";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data] = args.as_slice() else {
        anyhow::bail!("usage: import-crasher <data folder>");
    };
    let server = TestServer::start(data.as_ref()).await?;
    let cookie = server
        .session_for(DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD)
        .await?;
    let client = reqwest::Client::new();
    let page = client
        .get(server.url("/office/jobs/import"))
        .header("cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the import page has no form token")?;
    let boundary = "doorstep-import-crash";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"jobs.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{CSV}\r\n--{boundary}--\r\n"
    );
    let answer = client
        .post(server.url("/office/jobs/import"))
        .header("cookie", &cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await?;
    anyhow::bail!(
        "the import finished ({}): the failpoint was not reached",
        answer.status()
    )
}
