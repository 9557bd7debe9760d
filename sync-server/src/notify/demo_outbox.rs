//! `GET /demo/outbox`: what the demo outbox provider "sent" — each message
//! with its channel, recipient, status and text, newest first. Served only
//! when the server runs with `--demo`, since it shows residents' details.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::error::ApiError;
use crate::pages::{escape, plain_page};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/demo/outbox", get(page))
}

async fn page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    if !state.demo_pages() {
        return Err(ApiError::NotFound(
            "the demo outbox is shown only on a demo server (--demo)".into(),
        ));
    }
    let rows = state.with_store(|store| store.outbox(200)).await?;
    let mut table = String::new();
    for row in &rows {
        let when = row.sent_at.unwrap_or(row.happened_at);
        let text = match (&row.subject, &row.body) {
            (Some(subject), Some(body)) => {
                format!("<strong>{}</strong>\n{}", escape(subject), escape(body))
            }
            (None, Some(body)) => escape(body),
            _ => String::new(),
        };
        table.push_str(&format!(
            "<tr><td>{} {}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>\n",
            when.date(),
            when.time_of_day(),
            escape(row.event.as_str()),
            row.channel,
            escape(row.recipient.as_deref().unwrap_or("")),
            escape(&row.status),
            escape(row.outcome.as_deref().unwrap_or("")),
            text,
        ));
    }
    Ok(Html(plain_page(
        "Doorstep — demo outbox",
        "td.text { white-space: pre-wrap; }",
        &format!(
            "<h1>Demo outbox</h1>
<p>Messages residents would have received ({count}, newest first). This server sends nothing: its messages only go here. Times are UTC.</p>
<table>
<thead><tr><th>When</th><th>Event</th><th>Channel</th><th>To</th><th>Status</th><th>Note</th><th>Text</th></tr></thead>
<tbody>
{table}</tbody>
</table>",
            count = rows.len(),
        ),
    )))
}
