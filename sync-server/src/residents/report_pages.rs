//! `GET /report` and `POST /report`: a resident reports a repair. The form
//! is `multipart/form-data` (it carries up to three photos), works with
//! JavaScript off, and on success redirects to the confirmation behind the
//! new job's tracking link, `/track/{token}/reported`.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::ids::PhotoId;
use doorstep_shared::photo::{PhotoLimits, Processed, process};

use crate::demo::DEMO_TENANT;
use crate::error::ApiError;
use crate::pages::layout::Page;
use crate::pages::render as html;
use crate::residents::report::{
    self, FIELDS, FieldError, MAX_PHOTOS, MAX_RESIDENT_PHOTO_BYTES, ReportForm,
};
use crate::routes::{self, Caller, Route};
use crate::secrets::random;
use crate::state::{AppState, resident_actor};
use crate::throttle::Bucket;

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/report", Caller::Anyone, form),
        routes::post("/report", Caller::Anyone, submit)
            .throttled(Bucket::Report)
            .limit(MAX_PHOTOS * MAX_RESIDENT_PHOTO_BYTES + 1024 * 1024),
    ]
}

async fn council(state: &AppState) -> Result<String, ApiError> {
    Ok(state.council_name(DEMO_TENANT).await?)
}

async fn page(
    state: &AppState,
    form: &ReportForm,
    errors: &[FieldError],
) -> Result<Response, ApiError> {
    let council = council(state).await?;
    let page = Page {
        council: &council,
        service: "Report a repair",
        title: "Report a repair",
        has_errors: !errors.is_empty(),
        staff: false,
        main: report::form_page(state.services(), form, errors),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(html(state, status, &page))
}

async fn form(State(state): State<AppState>) -> Result<Response, ApiError> {
    page(&state, &ReportForm::default(), &[]).await
}

fn unreadable(error: axum::extract::multipart::MultipartError) -> ApiError {
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!(
            "the photos are too large: send up to {MAX_PHOTOS}, each under {} MB",
            MAX_RESIDENT_PHOTO_BYTES / (1024 * 1024)
        )),
        _ => ApiError::BadRequest(format!("the form could not be read: {error}")),
    }
}

async fn submit(
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> Result<Response, ApiError> {
    let mut form = ReportForm::default();
    let mut files = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "photos" {
            let bytes = field.bytes().await.map_err(unreadable)?;
            // A file input with nothing chosen still sends an empty part.
            if bytes.is_empty() {
                continue;
            }
            if files.len() == MAX_PHOTOS {
                if !errors.iter().any(|(field, _)| *field == "photos") {
                    errors.push(("photos", format!("Choose up to {MAX_PHOTOS} photos")));
                }
                continue;
            }
            files.push(bytes.to_vec());
        } else {
            form.set(&name, field.text().await.map_err(unreadable)?);
        }
    }
    let checked = form.check(state.services());
    // Photos go through the same pipeline as the phones' (size and pixel
    // limits, EXIF and GPS stripped), off the async threads.
    let processed = tokio::task::spawn_blocking(move || {
        let limits = PhotoLimits {
            max_bytes: MAX_RESIDENT_PHOTO_BYTES,
            ..PhotoLimits::default()
        };
        files
            .into_iter()
            .map(|file| process(&file, &limits).map(|processed| (processed, file)))
            .collect::<Vec<_>>()
    })
    .await?;
    let mut photos: Vec<(Processed, Vec<u8>)> = Vec::new();
    for (number, result) in (1..).zip(processed) {
        match result {
            Ok(photo) => photos.push(photo),
            Err(error) => errors.push((
                "photos",
                format!("Photo {number} cannot be used ({error}): choose another"),
            )),
        }
    }
    let new_job = match checked {
        Ok(job) => Some(job),
        Err(problems) => {
            errors.extend(problems);
            None
        }
    };
    let Some(mut new_job) = new_job.filter(|_| errors.is_empty()) else {
        // A browser cannot be given its files back.
        if !photos.is_empty() && !errors.iter().any(|(field, _)| *field == "photos") {
            errors.push((
                "photos",
                "Choose your photos again: they are not kept when the form has a problem".into(),
            ));
        }
        errors.sort_by_key(|(field, _)| FIELDS.iter().position(|f| f == field));
        return page(&state, &form, &errors).await;
    };
    let service = state
        .services()
        .get(&new_job.service)
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("that service is not offered".into()))?;
    let now = state.clock().now();
    if let Some(kind) = service.report.as_ref().and_then(|r| r.photo_kind.clone()) {
        for (processed, file) in &photos {
            for (_, _, bytes) in processed.uploads(file, &service.photos) {
                crate::photos::storage::put_made(&state, bytes.to_vec()).await?;
            }
            let reference =
                processed.reference(kind.clone(), resident_actor(), now, None, &service.photos);
            new_job
                .photos
                .push((PhotoId::from_random_bytes(random::<16>()?), reference));
        }
    }
    let created =
        crate::intake::create(&state, resident_actor(), DEMO_TENANT, new_job, now).await?;
    let token = crate::residents::link::issue(&state, DEMO_TENANT, created.job, now).await?;
    Ok(Redirect::to(&format!("/track/{token}/reported")).into_response())
}
