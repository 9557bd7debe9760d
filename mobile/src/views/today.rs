//! **Today**: the jobs assigned to me, by appointment, with counts.

use dioxus::prelude::*;
use doorstep_shared::ids::JobId;
use doorstep_shared::summary::JobSummary;

/// What the Today screen shows, worked out from job summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct TodayState {
    /// Jobs with a slot, earliest first, then jobs without one.
    pub jobs: Vec<JobSummary>,
    /// How many have a request waiting for the server.
    pub pending: usize,
}

impl TodayState {
    /// Orders the jobs by appointment (unbooked last, then by reference).
    pub fn new(mut jobs: Vec<JobSummary>) -> Self {
        jobs.sort_by(|a, b| {
            (
                a.appointment_starts.is_none(),
                a.appointment_starts,
                &a.reference,
            )
                .cmp(&(
                    b.appointment_starts.is_none(),
                    b.appointment_starts,
                    &b.reference,
                ))
        });
        let pending = jobs.iter().filter(|j| j.pending_requests > 0).count();
        Self { jobs, pending }
    }

    /// The heading's count line.
    pub fn count_line(&self) -> String {
        match (self.jobs.len(), self.pending) {
            (0, _) => "No jobs yet. Enrol this phone with your council's Doorstep server.".into(),
            (1, 0) => "1 job".into(),
            (n, 0) => format!("{n} jobs"),
            (n, p) => format!("{n} jobs, {p} waiting to sync"),
        }
    }
}

/// The Today screen; `on_open` gets the job tapped.
#[component]
pub fn Today(jobs: Vec<JobSummary>, on_open: Option<EventHandler<JobId>>) -> Element {
    let state = TodayState::new(jobs);
    rsx! {
        main { class: "today",
            h1 { "Today" }
            p { class: "count", "{state.count_line()}" }
            ul { class: "jobs",
                for job in state.jobs.iter() {
                    li {
                        key: "{job.job}",
                        class: "job",
                        onclick: {
                            let id = job.job;
                            move |_| {
                                if let Some(open) = on_open {
                                    open.call(id);
                                }
                            }
                        },
                        span { class: "time", "{slot(job)}" }
                        strong { class: "address", "{job.address}" }
                        span { class: "service", "{job.service_name}" }
                        span { class: "status", "{job.status_label}" }
                    }
                }
            }
        }
    }
}

fn slot(job: &JobSummary) -> String {
    match (job.appointment_starts, job.appointment_ends) {
        (Some(starts), Some(ends)) => format!("{}–{}", starts.time_of_day(), ends.time_of_day()),
        _ => "Not booked".into(),
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;
    use doorstep_shared::prelude::*;

    use super::*;

    fn summary(number: u32, starts_at_hour: Option<u8>) -> JobSummary {
        let services = ServiceCatalog::builtin().unwrap();
        let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
        let job = demo::job(
            repair,
            number,
            "7 Tarring Road, Worthing, BN11 4SS",
            Timestamp::from_millis(0),
        );
        let doc = job
            .create_document(ActorId::from(b"test".as_slice()))
            .unwrap();
        let mut summary = JobSummary::of(
            JobId::from_u128(number.into()),
            &Job::load(&doc).unwrap(),
            repair,
        );
        let day: Date = "2026-11-27".parse().unwrap();
        summary.appointment_starts = starts_at_hour.map(|h| Timestamp::at(day, h, 0));
        summary.appointment_ends = starts_at_hour.map(|h| Timestamp::at(day, h + 2, 0));
        summary
    }

    #[test]
    fn jobs_are_listed_by_appointment_with_unbooked_ones_last() {
        let state = TodayState::new(vec![
            summary(1, None),
            summary(2, Some(13)),
            summary(3, Some(9)),
        ]);
        let order: Vec<&str> = state.jobs.iter().map(|j| j.reference.as_str()).collect();
        assert_eq!(order, ["HR-00003", "HR-00002", "HR-00001"]);
        assert_eq!(state.count_line(), "3 jobs");
    }

    #[test]
    fn the_today_screen_renders_each_job_with_its_slot_and_status() {
        let html = dioxus_ssr::render_element(rsx! {
            Today { jobs: vec![summary(1, Some(9))] }
        });
        assert!(html.contains("09:00–11:00"), "{html}");
        assert!(
            html.contains("7 Tarring Road, Worthing, BN11 4SS"),
            "{html}"
        );
        assert!(html.contains("Reported"), "{html}");
        assert!(html.contains("1 job"), "{html}");
    }

    #[test]
    fn an_unenrolled_phone_says_what_to_do() {
        let html = dioxus_ssr::render_element(rsx! { Today { jobs: Vec::new() } });
        assert!(html.contains("Enrol this phone"), "{html}");
    }
}
