//! The sync status line, always on screen: offline, syncing, how much is
//! waiting, when the phone last synced, or what went wrong with a button to
//! try again.

use dioxus::prelude::*;
use doorstep_app_core::core::{CoreEvent, SyncNews, UploadNews};
use doorstep_app_core::runtime::Update;
use doorstep_shared::time::Timestamp;

/// What the status line knows, updated from the core's updates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// Changes waiting to go up.
    pub changes: usize,
    /// Photo renditions waiting to go up.
    pub photos: usize,
    /// The last successful sync.
    pub last_synced: Option<Timestamp>,
    /// The last failure, while it stands: why, and when the next try is.
    pub failed: Option<(String, Timestamp)>,
    /// The server needs a newer app.
    pub update_required: Option<String>,
}

impl SyncStatus {
    /// Takes one update from the core into account.
    pub fn apply(&mut self, update: &Update) {
        match update {
            Update::Waiting { changes, photos } => {
                self.changes = *changes;
                self.photos = *photos;
            }
            Update::Event(CoreEvent::Sync(news)) => match news {
                SyncNews::Synced { at } => {
                    self.last_synced = Some(*at);
                    self.failed = None;
                }
                SyncNews::Failed { reason, retry_at } => {
                    self.failed = Some((reason.clone(), *retry_at));
                }
                SyncNews::UpdateRequired(message) => self.update_required = Some(message.clone()),
                SyncNews::Refused { .. } => {}
            },
            Update::Event(CoreEvent::Upload(UploadNews::Uploaded { .. })) => {
                self.photos = self.photos.saturating_sub(1);
            }
            _ => {}
        }
    }

    /// The line, in plain words.
    pub fn line(&self) -> String {
        if let Some(message) = &self.update_required {
            return format!("Update the app to keep syncing: {message}");
        }
        let waiting = match (self.changes, self.photos) {
            (0, 0) => None,
            (changes, 0) => Some(plural(changes, "change", "changes")),
            (0, photos) => Some(plural(photos, "photo", "photos")),
            (changes, photos) => Some(format!(
                "{} and {}",
                plural(changes, "change", "changes"),
                plural(photos, "photo", "photos")
            )),
        };
        match (&self.failed, waiting, self.last_synced) {
            (Some(_), Some(waiting), _) => {
                format!("Offline — {waiting} waiting, saved on this phone")
            }
            (Some(_), None, _) => "Offline — everything is saved on this phone".into(),
            (None, Some(waiting), _) => format!("Syncing — {waiting} waiting"),
            (None, None, Some(at)) => format!("All synced at {}", at.time_of_day()),
            (None, None, None) => "Not synced yet".into(),
        }
    }

    /// Whether to offer the retry button.
    pub fn can_retry(&self) -> bool {
        self.failed.is_some() && self.update_required.is_none()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The status line. `on_retry` asks the core to sync now.
#[component]
pub fn SyncStatusLine(status: SyncStatus, on_retry: EventHandler<()>) -> Element {
    let failed = status.failed.clone();
    rsx! {
        div { class: "sync-status", role: "status",
            span { "{status.line()}" }
            if let Some((reason, retry_at)) = failed {
                span { class: "why", " ({reason}; trying again at {retry_at.time_of_day()})" }
            }
            if status.can_retry() {
                button { class: "retry", onclick: move |_| on_retry.call(()), "Try again" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Timestamp = Timestamp::from_millis(1_795_765_800_000);

    #[rstest::rstest]
    #[case::never(vec![], "Not synced yet")]
    #[case::synced(vec![Update::Event(CoreEvent::Sync(SyncNews::Synced { at: AT }))], "All synced at 07:50")]
    #[case::waiting(vec![Update::Waiting { changes: 2, photos: 1 }], "Syncing — 2 changes and 1 photo waiting")]
    #[case::offline(
        vec![
            Update::Waiting { changes: 1, photos: 0 },
            Update::Event(CoreEvent::Sync(SyncNews::Failed { reason: "no signal".into(), retry_at: AT })),
        ],
        "Offline — 1 change waiting, saved on this phone"
    )]
    #[case::back(
        vec![
            Update::Event(CoreEvent::Sync(SyncNews::Failed { reason: "no signal".into(), retry_at: AT })),
            Update::Waiting { changes: 0, photos: 0 },
            Update::Event(CoreEvent::Sync(SyncNews::Synced { at: AT })),
        ],
        "All synced at 07:50"
    )]
    #[case::update(vec![Update::Event(CoreEvent::Sync(SyncNews::UpdateRequired("version 2 needed".into())))], "Update the app to keep syncing: version 2 needed")]
    fn the_status_line_says_where_sync_stands(#[case] updates: Vec<Update>, #[case] line: &str) {
        let mut status = SyncStatus::default();
        for update in &updates {
            status.apply(update);
        }
        assert_eq!(status.line(), line);
    }

    #[component]
    fn Harness(status: SyncStatus) -> Element {
        rsx! { SyncStatusLine { status, on_retry: move |_| {} } }
    }

    #[test]
    fn a_failed_sync_offers_a_retry_button_with_the_reason() {
        let mut status = SyncStatus::default();
        status.apply(&Update::Event(CoreEvent::Sync(SyncNews::Failed {
            reason: "no signal".into(),
            retry_at: AT,
        })));
        let mut dom = VirtualDom::new_with_props(Harness, HarnessProps { status });
        dom.rebuild_in_place();
        let html = dioxus_ssr::render(&dom);
        assert!(html.contains("Try again"), "{html}");
        assert!(html.contains("no signal"), "{html}");
    }
}
