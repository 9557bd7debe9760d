//! `GET /demo/outbox`: what the demo outbox provider "sent" for the
//! signed-in member of staff's council — each message with its channel,
//! recipient, status and text, newest first. Served only when the server
//! runs with `--demo`, and only to staff, since it shows residents'
//! details. A sent message's tracking link is not kept (see
//! [`super::outbox`]): the text shows where it was.

use axum::extract::State;
use axum::response::Html;

use crate::error::ApiError;
use crate::office::staff::StaffSession;
use crate::pages::plain_page;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use maud::html;

pub(super) fn routes() -> Vec<Route> {
    vec![routes::get("/demo/outbox", Caller::Staff, page)]
}

async fn page(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Html<String>, ApiError> {
    if !state.demo_pages() {
        return Err(ApiError::NotFound(
            "the demo outbox is shown only on a demo server (--demo)".into(),
        ));
    }
    let tenant = session.tenant;
    let mut rows = state.with_store(|store| store.outbox(200)).await?;
    rows.retain(|row| row.tenant == tenant);
    let body = html! {
        h1 { "Demo outbox" }
        p {
            "Messages residents would have received (" (rows.len())
            ", newest first). This server sends nothing: its messages only go here. Times are UTC."
        }
        table {
            thead {
                tr {
                    th { "When" } th { "Event" } th { "Channel" } th { "To" }
                    th { "Status" } th { "Note" } th { "Text" }
                }
            }
            tbody {
                @for row in &rows {
                    @let when = row.sent_at.unwrap_or(row.happened_at);
                    tr {
                        td { (when.date()) " " (when.time_of_day()) }
                        td { (row.event.as_str()) }
                        td { (format!("{:?}", row.channel)) }
                        td { (row.recipient.as_deref().unwrap_or("")) }
                        td { (row.status) }
                        td { (row.outcome.as_deref().unwrap_or("")) }
                        td.text {
                            @if let Some(subject) = &row.subject {
                                strong { (subject) } "\n"
                            }
                            (row.body.as_deref().unwrap_or(""))
                        }
                    }
                }
            }
        }
    };
    Ok(Html(
        plain_page(
            "Doorstep — demo outbox",
            "td.text { white-space: pre-wrap; }",
            body,
        )
        .into_string(),
    ))
}
