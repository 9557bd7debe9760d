//! **Today**: a crew's rounds, then my jobs by appointment, with counts and
//! filters (still to do, waiting to sync, all). Jobs fall under Today (the
//! day's and any overdue), Tomorrow, Later and Not booked, by their
//! appointment's date in the council's time (GMT or BST).

use dioxus::prelude::*;
use doorstep_app_core::core::RoundRow;
use doorstep_app_core::store::JobRow;
use doorstep_shared::ids::{JobId, RoundId};
use doorstep_shared::summary::JobSummary;
use doorstep_shared::time::{Date, Timestamp, uk};

/// Which part of the list a job falls in, by its appointment's local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Day {
    /// Today's, or overdue.
    Today,
    /// Tomorrow's.
    Tomorrow,
    /// After tomorrow.
    Later,
    /// No appointment yet.
    NotBooked,
}

impl Day {
    /// The parts, in the order the list shows them.
    pub const ALL: [Day; 4] = [Day::Today, Day::Tomorrow, Day::Later, Day::NotBooked];

    /// The part of a job whose appointment starts at `starts`.
    pub fn of(starts: Option<Timestamp>, today: Date) -> Day {
        let Some(starts) = starts else {
            return Day::NotBooked;
        };
        let (date, _) = uk::local(starts);
        if date <= today {
            Day::Today
        } else if date == today.succ() {
            Day::Tomorrow
        } else {
            Day::Later
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Day::Today => "Today",
            Day::Tomorrow => "Tomorrow",
            Day::Later => "Later",
            Day::NotBooked => "Not booked",
        }
    }
}

/// An appointment in the phone's words: the council's local times, and the
/// day in words unless it is `today` ("Tomorrow, 09:00–11:00").
pub fn slot_words(starts: Timestamp, ends: Timestamp, today: Option<Date>) -> String {
    let (date, from) = uk::local(starts);
    let (_, to) = uk::local(ends);
    let times = format!("{from}–{to}");
    match today {
        Some(today) if date == today => times,
        Some(today) if date == today.succ() => format!("Tomorrow, {times}"),
        Some(today) if date.succ() == today => format!("Yesterday, {times}"),
        _ => format!("{}, {times}", date.in_words()),
    }
}

/// Which jobs the list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TodayFilter {
    /// Jobs not finished yet.
    #[default]
    ToDo,
    /// Jobs holding changes the server has not accepted.
    Waiting,
    /// Every job on the phone.
    All,
}

impl TodayFilter {
    /// The filters in the order the buttons show them.
    pub const ALL: [TodayFilter; 3] = [TodayFilter::ToDo, TodayFilter::Waiting, TodayFilter::All];

    fn label(self) -> &'static str {
        match self {
            TodayFilter::ToDo => "To do",
            TodayFilter::Waiting => "Not sent",
            TodayFilter::All => "All",
        }
    }
}

/// One job on the list.
#[derive(Debug, Clone, PartialEq)]
pub struct TodayLine {
    /// Its summary.
    pub summary: JobSummary,
    /// Its status is a final one (completed, cancelled).
    pub finished: bool,
    /// The phone holds changes to it the server has not accepted.
    pub unsynced: bool,
}

/// What the Today screen shows, worked out from the job rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TodayState {
    /// The jobs the filter lets through: slot order, unbooked last.
    pub jobs: Vec<TodayLine>,
    /// The rounds on the phone.
    pub rounds: Vec<RoundRow>,
    /// The filter in force.
    pub filter: TodayFilter,
    /// How many jobs each filter would show, in [`TodayFilter::ALL`] order.
    pub counts: [usize; 3],
    /// The phone is enrolled (an empty list then means no work, not no
    /// server).
    pub enrolled: bool,
    /// The council's date today, to put each job under its day.
    pub today: Option<Date>,
}

impl TodayState {
    /// The list for `filter`; `finished` says whether a job's status is a
    /// final one in its service.
    pub fn new(
        rows: &[JobRow],
        rounds: Vec<RoundRow>,
        filter: TodayFilter,
        enrolled: bool,
        finished: impl Fn(&JobSummary) -> bool,
    ) -> Self {
        let mut lines: Vec<TodayLine> = rows
            .iter()
            .map(|row| TodayLine {
                finished: finished(&row.summary),
                unsynced: row.unsynced || row.summary.pending_requests > 0,
                summary: row.summary.clone(),
            })
            .collect();
        lines.sort_by(|a, b| {
            let key = |line: &TodayLine| {
                (
                    line.summary.appointment_starts.is_none(),
                    line.summary.appointment_starts,
                    line.summary.reference.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let counts = TodayFilter::ALL.map(|f| lines.iter().filter(|l| f.admits(l)).count());
        lines.retain(|line| filter.admits(line));
        Self {
            jobs: lines,
            rounds,
            filter,
            counts,
            enrolled,
            today: None,
        }
    }

    /// The same list as seen on `today` (the council's date): each job
    /// under its day, its slot in words.
    pub fn on(mut self, today: Date) -> Self {
        self.today = Some(today);
        self
    }

    /// The parts of the list to show, each with its jobs, in order; one
    /// unheaded part when the date is not known.
    pub fn parts(&self) -> Vec<(Option<&'static str>, Vec<&TodayLine>)> {
        let Some(today) = self.today else {
            return vec![(None, self.jobs.iter().collect())];
        };
        Day::ALL
            .into_iter()
            .map(|day| {
                let lines: Vec<&TodayLine> = self
                    .jobs
                    .iter()
                    .filter(|line| Day::of(line.summary.appointment_starts, today) == day)
                    .collect();
                (Some(day.heading()), lines)
            })
            .filter(|(_, lines)| !lines.is_empty())
            .collect()
    }

    /// The heading's count line.
    pub fn count_line(&self) -> String {
        let [to_do, waiting, all] = self.counts;
        if !self.enrolled {
            return "Not enrolled yet. Enrol this phone with your council's Doorstep server."
                .into();
        }
        if all == 0 {
            return if self.rounds.is_empty() {
                "No jobs on this phone yet.".into()
            } else {
                "No jobs today, just your round.".into()
            };
        }
        let jobs = |n: usize| {
            if n == 1 {
                "1 job".to_owned()
            } else {
                format!("{n} jobs")
            }
        };
        match waiting {
            0 => format!("{} to do, {} in all", jobs(to_do), all),
            w => format!("{} to do, {} in all, {w} not sent yet", jobs(to_do), all),
        }
    }

    /// What an empty list says under the filter in force.
    pub fn empty_line(&self) -> Option<&'static str> {
        if !self.jobs.is_empty() || self.counts[2] == 0 {
            return None;
        }
        Some(match self.filter {
            TodayFilter::ToDo => "Nothing left to do. Well done.",
            TodayFilter::Waiting => "Everything has been sent.",
            TodayFilter::All => "No jobs.",
        })
    }
}

impl TodayFilter {
    fn admits(self, line: &TodayLine) -> bool {
        match self {
            TodayFilter::ToDo => !line.finished,
            TodayFilter::Waiting => line.unsynced,
            TodayFilter::All => true,
        }
    }
}

/// The Today screen; `on_open` gets the job tapped, `on_round` the round,
/// `on_filter` the filter chosen.
#[component]
pub fn Today(
    state: TodayState,
    on_open: EventHandler<JobId>,
    on_round: EventHandler<RoundId>,
    on_filter: EventHandler<TodayFilter>,
) -> Element {
    rsx! {
        main { class: "today",
            h1 { "Today" }
            p { class: "count", "{state.count_line()}" }
            if !state.rounds.is_empty() {
                ul { class: "rounds",
                    for round in state.rounds.iter() {
                        li { key: "{round.round}",
                            button {
                                class: "big round-link",
                                onclick: {
                                    let id = round.round;
                                    move |_| on_round.call(id)
                                },
                                "Round {round.reference} · {round.done} of {round.total} done"
                            }
                        }
                    }
                }
            }
            if state.counts[2] > 0 {
                nav { class: "filters",
                    for (filter, count) in TodayFilter::ALL.into_iter().zip(state.counts) {
                        button {
                            key: "{filter.label()}",
                            class: if filter == state.filter { "filter chosen" } else { "filter" },
                            "aria-pressed": filter == state.filter,
                            onclick: move |_| on_filter.call(filter),
                            "{filter.label()} ({count})"
                        }
                    }
                }
            }
            if let Some(empty) = state.empty_line() {
                p { class: "empty", "{empty}" }
            }
            for (heading, lines) in state.parts() {
                if let Some(heading) = heading {
                    h2 { key: "{heading}", class: "day", "{heading}" }
                }
                ul { class: "jobs",
                    for line in lines {
                        li {
                            key: "{line.summary.job}",
                            class: if line.finished { "job finished" } else { "job" },
                            button {
                                class: "job-link",
                                onclick: {
                                    let id = line.summary.job;
                                    move |_| on_open.call(id)
                                },
                                span { class: "time", "{slot(&line.summary, state.today)}" }
                                strong { class: "address", "{line.summary.address}" }
                                span { class: "service", "{line.summary.service_name}" }
                                span { class: "status", "{line.summary.status_label}" }
                                if line.unsynced {
                                    span { class: "unsent", "Not sent yet" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn slot(job: &JobSummary, today: Option<Date>) -> String {
    match (job.appointment_starts, job.appointment_ends) {
        (Some(starts), Some(ends)) => slot_words(starts, ends, today),
        _ => "Not booked".into(),
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;
    use doorstep_shared::prelude::*;

    use super::*;
    use crate::testing::Driven;

    fn row(number: u32, starts_at_hour: Option<u8>, unsynced: bool) -> JobRow {
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
        JobRow { summary, unsynced }
    }

    fn state(rows: &[JobRow], filter: TodayFilter, finished: &[&str]) -> TodayState {
        TodayState::new(rows, Vec::new(), filter, true, |s| {
            finished.contains(&s.reference.as_str())
        })
    }

    #[test]
    fn a_summer_slot_shows_in_british_summer_time_and_other_days_in_words() {
        // 08:00–10:00 UTC on 15 July is 09:00–11:00 in Worthing.
        let day: Date = "2026-07-15".parse().unwrap();
        let (starts, ends) = (Timestamp::at(day, 8, 0), Timestamp::at(day, 10, 0));
        assert_eq!(slot_words(starts, ends, Some(day)), "09:00–11:00");
        let yesterday = Date::from_days_since_epoch(day.days_since_epoch() - 1);
        assert_eq!(
            slot_words(starts, ends, Some(yesterday)),
            "Tomorrow, 09:00–11:00"
        );
        assert_eq!(
            slot_words(starts, ends, Some(day.succ().succ())),
            "Wednesday 15 July 2026, 09:00–11:00"
        );
        // In winter the council's time is GMT.
        let winter: Date = "2026-11-27".parse().unwrap();
        assert_eq!(
            slot_words(
                Timestamp::at(winter, 9, 0),
                Timestamp::at(winter, 11, 0),
                Some(winter)
            ),
            "09:00–11:00"
        );
    }

    #[test]
    fn today_lists_the_days_and_overdue_jobs_with_tomorrow_and_later_below() {
        // Rows are booked on 27 November; seen on the 26th, the 27th and the 28th.
        let rows = [row(1, Some(9), false), row(2, None, false)];
        let on = |date: &str| {
            let state = state(&rows, TodayFilter::All, &[]).on(date.parse().unwrap());
            let html = Driven::today(state.clone()).html();
            let parts: Vec<(Option<&str>, usize)> = state
                .parts()
                .into_iter()
                .map(|(heading, lines)| (heading, lines.len()))
                .collect();
            (parts, html)
        };
        let (parts, html) = on("2026-11-26");
        assert_eq!(parts, [(Some("Tomorrow"), 1), (Some("Not booked"), 1)]);
        assert!(html.contains("Tomorrow, 09:00–11:00"), "{html}");
        let (parts, _) = on("2026-11-27");
        assert_eq!(parts, [(Some("Today"), 1), (Some("Not booked"), 1)]);
        let (parts, html) = on("2026-11-28");
        assert_eq!(
            parts,
            [(Some("Today"), 1), (Some("Not booked"), 1)],
            "overdue"
        );
        assert!(html.contains("Yesterday, 09:00–11:00"), "{html}");
        let (parts, _) = on("2026-11-20");
        assert_eq!(parts, [(Some("Later"), 1), (Some("Not booked"), 1)]);
    }

    #[test]
    fn jobs_are_listed_by_appointment_with_unbooked_ones_last() {
        let rows = [
            row(1, None, false),
            row(2, Some(13), false),
            row(3, Some(9), false),
        ];
        let state = state(&rows, TodayFilter::All, &[]);
        let order: Vec<&str> = state
            .jobs
            .iter()
            .map(|j| j.summary.reference.as_str())
            .collect();
        assert_eq!(order, ["HR-00003", "HR-00002", "HR-00001"]);
        assert_eq!(state.count_line(), "3 jobs to do, 3 in all");
    }

    #[test]
    fn the_filters_split_finished_and_unsent_jobs_and_count_each() {
        let rows = [
            row(1, Some(9), false),
            row(2, Some(11), true),
            row(3, Some(13), false),
        ];
        let to_do = state(&rows, TodayFilter::ToDo, &["HR-00001"]);
        assert_eq!(to_do.counts, [2, 1, 3]);
        assert_eq!(to_do.jobs.len(), 2);
        assert_eq!(to_do.count_line(), "2 jobs to do, 3 in all, 1 not sent yet");
        let waiting = state(&rows, TodayFilter::Waiting, &["HR-00001"]);
        assert_eq!(waiting.jobs[0].summary.reference, "HR-00002");
        let done = state(&rows[..1], TodayFilter::ToDo, &["HR-00001"]);
        assert_eq!(done.empty_line(), Some("Nothing left to do. Well done."));
    }

    #[test]
    fn the_today_screen_renders_each_job_with_its_slot_status_and_sync_state() {
        let rows = [row(1, Some(9), true)];
        let html = Driven::today(state(&rows, TodayFilter::ToDo, &[])).html();
        assert!(html.contains("09:00–11:00"), "{html}");
        assert!(
            html.contains("7 Tarring Road, Worthing, BN11 4SS"),
            "{html}"
        );
        assert!(html.contains("Reported"), "{html}");
        assert!(html.contains("Not sent yet"), "{html}");
        assert!(html.contains("To do (1)"), "{html}");
    }

    #[test]
    fn an_unenrolled_phone_says_what_to_do_and_an_enrolled_one_with_no_work_says_so() {
        let unenrolled = TodayState::new(&[], Vec::new(), TodayFilter::ToDo, false, |_| false);
        let html = Driven::today(unenrolled).html();
        assert!(html.contains("Enrol this phone"), "{html}");
        let idle = state(&[], TodayFilter::ToDo, &[]);
        let html = Driven::today(idle).html();
        assert!(html.contains("No jobs on this phone yet."), "{html}");
        assert!(!html.contains("filter"), "no filters over nothing: {html}");
    }

    #[test]
    fn a_crew_sees_its_round_with_progress_and_tapping_it_opens_the_round() {
        let rounds = vec![RoundRow {
            round: RoundId::from_u128(5),
            reference: "WR-FRI-1".into(),
            date: "2026-11-27".parse().unwrap(),
            done: 12,
            total: 40,
        }];
        let state = TodayState::new(&[], rounds, TodayFilter::ToDo, true, |_| false);
        let mut driven = Driven::today(state);
        let html = driven.html();
        assert!(html.contains("Round WR-FRI-1 · 12 of 40 done"), "{html}");
        assert!(html.contains("just your round"), "{html}");
        driven.click(0);
        assert_eq!(
            driven.taken(),
            ["round 00000000-0000-0000-0000-000000000005"]
        );
    }

    #[test]
    fn tapping_a_filter_and_a_job_reach_their_handlers() {
        let rows = [row(1, Some(9), false), row(2, Some(11), false)];
        let mut driven = Driven::today(state(&rows, TodayFilter::ToDo, &[]));
        // Listeners are numbered in the order the DOM made them: the jobs
        // (a list of their own) first, then the three filters.
        driven.click(3);
        driven.click(1);
        assert_eq!(
            driven.taken(),
            [
                "filter Waiting",
                "open 00000000-0000-0000-0000-000000000002"
            ]
        );
    }
}
