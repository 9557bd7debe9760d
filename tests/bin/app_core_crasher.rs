//! Opens an app core's database and edits a job's notes again and again,
//! for the crash test: run with `DOORSTEP_FAILPOINT` set, it dies in the
//! middle of one of its writes.
//!
//! `app-core-crasher <database> <job id> <edits>`

use anyhow::Context;
use doorstep_app_core::core::AppCore;
use doorstep_app_core::store::LocalStore;
use doorstep_shared::ids::JobId;
use doorstep_shared::service::ServiceCatalog;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, database, job, edits] = args.as_slice() else {
        anyhow::bail!("usage: app-core-crasher <database> <job id> <edits>");
    };
    let job: JobId = job.parse()?;
    let edits: u32 = edits.parse()?;
    let mut core = AppCore::open(
        LocalStore::open(database.as_ref())?,
        ServiceCatalog::builtin()?,
    )?;
    let (before, _) = core.job(job)?;
    let notes = before.notes.as_str().to_owned();
    for n in 1..=edits {
        core.update_notes(job, &format!("{notes}\ncrasher edit {n}"))
            .with_context(|| format!("edit {n}"))?;
    }
    Ok(())
}
