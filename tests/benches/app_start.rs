//! The app opens on a phone holding thousands of jobs: how long until the
//! Today list and one Job screen are ready, and how much memory it takes.
//! Doorstep reads the list rows written beside each document and loads the
//! one job opened; the naive peer loads and hydrates every document, as an
//! app without a summary table must. Both read the same SQLite file.
//!
//! Each measurement runs in a fresh child process of this benchmark (so
//! one's freed memory never flatters the other), alternating, and the
//! medians are printed.
//!
//! `cargo bench -p doorstep-tests --bench app_start`; with
//! `DOORSTEP_BENCH_QUICK=1` (as CI runs it) fewer jobs and runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use automerge::{ActorId, AutoCommit};
use doorstep_app_core::core::AppCore;
use doorstep_app_core::store::LocalStore;
use doorstep_shared::job::{Assignee, OfficeEditor};
use doorstep_shared::prelude::*;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::workflow;

const TENANT: TenantId = TenantId::from_u128(0xa5);
const OPERATIVE: UserId = UserId::from_u128(0xa51);

fn job_id(n: u32) -> JobId {
    JobId::from_u128(0xa5_0000 + u128::from(n))
}

/// A phone's database with `jobs` realistic jobs: notes, ticks, two photo
/// references and a timeline entry each.
fn build(path: &Path, jobs: u32) {
    let services = ServiceCatalog::builtin().unwrap();
    let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
    let mut store = LocalStore::open(path).unwrap();
    let server = ActorId::from(&[0xa5; 16][..]);
    let phone = Actor {
        user: OPERATIVE,
        role: Role::Operative,
        device: Some(DeviceId::from_u128(0xa52)),
    };
    let start = Timestamp::from_millis(1_795_765_800_000);
    store
        .write(|write| {
            for n in 0..jobs {
                let mut document = demo::job(
                    repair,
                    n,
                    &format!("{} Sompting Road, Lancing, BN15 {}AB", n % 300 + 1, n % 9),
                    start,
                )
                .create_document(server.clone())
                .unwrap();
                let slot = start.plus_minutes(i64::from(n % 40) * 15);
                let mut office = OfficeEditor::new(&mut document).unwrap();
                office.assign(Some(Assignee::User(OPERATIVE))).unwrap();
                office
                    .set_appointment(Some(doorstep_shared::job::Appointment {
                        starts: slot,
                        ends: slot.plus_minutes(120),
                    }))
                    .unwrap();
                document.set_actor(ActorId::from(&[0xa6; 16][..]));
                let mut editor = JobEditor::new(&mut document, phone.clone()).unwrap();
                editor
                    .update_notes(&format!(
                        "Job {n}: leak under the kitchen sink, resident says it started after the \
                         frost. Access via the side gate; dog in the garden, friendly. Bring a \
                         15 mm compression fitting and the long basin wrench. Parking on the \
                         street is permit-only before 10."
                    ))
                    .unwrap();
                let items: Vec<Name> = demo::job(repair, n, "", start)
                    .office
                    .checklist
                    .keys()
                    .cloned()
                    .collect();
                for item in items.iter().take(3) {
                    editor.tick(item, true, slot).unwrap();
                }
                for (k, kind) in ["before", "after"].iter().enumerate() {
                    let mut photo = demo::photo(kind.parse().unwrap(), &phone, slot);
                    photo.display = Some(BlobHash::of(format!("{n}-{k}-d").as_bytes()));
                    photo.thumbnail = Some(BlobHash::of(format!("{n}-{k}-t").as_bytes()));
                    editor
                        .add_photo(PhotoId::from_u128(u128::from(n) * 2 + k as u128), &photo)
                        .unwrap();
                }
                editor
                    .log_action(
                        EventId::from_u128(u128::from(n)),
                        "on_my_way".parse().unwrap(),
                        None,
                        slot,
                    )
                    .unwrap();
                document.commit();
                write
                    .put_document(TENANT, DocumentId::Job(job_id(n)), &mut document, &services)
                    .unwrap();
            }
            Ok(())
        })
        .unwrap();
}

/// Resident memory now and at its peak since the last reset, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One measurement, in this (child) process: prints `ms bytes`.
fn measure(system: &str, path: &Path, opened: JobId) {
    // Reset the peak to the current size, then measure above it.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (baseline, _) = memory();
    let started = Instant::now();
    let (rows, offers) = match system {
        "doorstep" => {
            let core = AppCore::open(
                LocalStore::open(path).unwrap(),
                ServiceCatalog::builtin().unwrap(),
            )
            .unwrap();
            let rows = core.job_rows().unwrap().len();
            let (job, service) = core.job(opened).unwrap();
            let facts = job.facts(service);
            let offers = workflow::offers(service, &facts, Role::Operative).len()
                + workflow::available_actions(service, &facts, Role::Operative).len();
            (rows, offers)
        }
        _ => naive(path, opened),
    };
    let elapsed = started.elapsed();
    let (_, peak) = memory();
    // Both made the same screens.
    assert!(rows > 0);
    std::hint::black_box(offers);
    println!(
        "{} {}",
        elapsed.as_secs_f64() * 1000.0,
        peak.saturating_sub(baseline)
    );
}

/// The peer: every document loaded and hydrated, summaries made from them.
fn naive(path: &Path, opened: JobId) -> (usize, usize) {
    let services = ServiceCatalog::builtin().unwrap();
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT id, bytes FROM documents")
        .unwrap();
    let mut jobs: Vec<(JobId, AutoCommit, Job)> = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .unwrap()
        .map(|row| {
            let (id, bytes) = row.unwrap();
            let DocumentId::Job(id) = id.parse().unwrap() else {
                panic!("only jobs here");
            };
            let document = AutoCommit::load(&bytes).unwrap();
            let job = Job::load(&document).unwrap();
            (id, document, job)
        })
        .collect();
    let mut summaries: Vec<JobSummary> = jobs
        .iter()
        .map(|(id, _, job)| JobSummary::of(*id, job, services.get(&job.office.service).unwrap()))
        .collect();
    summaries.sort_by(|a, b| {
        (a.appointment_starts, &a.reference).cmp(&(b.appointment_starts, &b.reference))
    });
    let (_, _, job) = jobs.iter_mut().find(|(id, _, _)| *id == opened).unwrap();
    let service = services.get(&job.office.service).unwrap();
    let facts = job.facts(service);
    let offers = workflow::offers(service, &facts, Role::Operative).len()
        + workflow::available_actions(service, &facts, Role::Operative).len();
    (summaries.len(), offers)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, system, path, job] = args.as_slice()
        && flag == "--measure"
    {
        measure(system, Path::new(path), job.parse().unwrap());
        return;
    }
    let quick = std::env::var_os("DOORSTEP_BENCH_QUICK").is_some();
    let (jobs, runs) = if quick { (300, 1) } else { (5_000, 5) };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    build(&path, jobs);
    let opened = job_id(jobs / 2);
    let me = std::env::current_exe().unwrap();
    let mut results: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("doorstep", Vec::new(), Vec::new()),
        ("naive", Vec::new(), Vec::new()),
    ];
    for _ in 0..runs {
        for (system, times, peaks) in &mut results {
            let output = Command::new(&me)
                .args(["--measure", system])
                .arg(&path)
                .arg(opened.to_string())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let text = String::from_utf8(output.stdout).unwrap();
            let mut fields = text.split_whitespace();
            times.push(fields.next().unwrap().parse().unwrap());
            peaks.push(fields.next().unwrap().parse().unwrap());
        }
    }
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    println!(
        "app start with {jobs} jobs: Today list and one Job screen ready (median of {runs} runs, each in a fresh process)"
    );
    println!("{:<10} {:>10} {:>16}", "system", "ms", "peak memory MiB");
    let figures: Vec<(f64, f64)> = results
        .iter()
        .map(|(system, times, peaks)| {
            let (ms, peak) = (median(times.clone()), mib(median(peaks.clone())));
            println!("{system:<10} {ms:>10.1} {peak:>16.1}");
            (ms, peak)
        })
        .collect();
    let (ours, theirs) = (figures[0], figures[1]);
    println!(
        "{}",
        serde_json::json!({
            "bench": "app_start",
            "jobs": jobs,
            "runs": runs,
            "doorstep_ms": ours.0,
            "doorstep_peak_mib": ours.1,
            "naive_ms": theirs.0,
            "naive_peak_mib": theirs.1,
            "time_ratio": ours.0 / theirs.0,
            "memory_ratio": ours.1 / theirs.1,
        })
    );
}
