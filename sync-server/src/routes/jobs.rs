//! Job lists: `GET /` (a plain page of the demo council's jobs) and
//! `GET /api/jobs` (the same as JSON).

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use doorstep_shared::summary::JobSummary;

use crate::demo::DEMO_TENANT;
use crate::error::ApiError;
pub(super) use crate::html::escape;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/api/jobs", get(list))
}

async fn summaries(state: &AppState) -> Result<Vec<JobSummary>, ApiError> {
    state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<JobSummary>>, ApiError> {
    Ok(Json(summaries(&state).await?))
}

async fn page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let jobs = summaries(&state).await?;
    let mut rows = String::new();
    for job in &jobs {
        let slot = match (job.appointment_starts, job.appointment_ends) {
            (Some(starts), Some(ends)) => {
                format!(
                    "{} {}–{}",
                    starts.date(),
                    starts.time_of_day(),
                    ends.time_of_day()
                )
            }
            _ => "Not booked".to_owned(),
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&job.reference),
            escape(&job.service_name),
            escape(&job.status_label),
            escape(&job.address),
            escape(&slot),
        ));
    }
    Ok(Html(plain_page(
        "Doorstep — jobs",
        "",
        &format!(
            "<h1>Doorstep</h1>
<p>{count} jobs. Times are UTC.</p>
<table>
<thead><tr><th>Reference</th><th>Service</th><th>Status</th><th>Address</th><th>Appointment</th></tr></thead>
<tbody>
{rows}</tbody>
</table>",
            count = jobs.len(),
        ),
    )))
}

/// A plain server page: the house style for tables, `extra_style` after
/// it, and `body` (already escaped) inside.
pub(super) fn plain_page(title: &str, extra_style: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 18px/1.5 system-ui, sans-serif; margin: 1rem; color: #0b0c0c; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .5rem; border-bottom: 1px solid #b1b4b6; vertical-align: top; }}
{extra_style}
</style>
</head>
<body>
{body}
</body>
</html>
"#,
        title = escape(title),
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_job_text_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
