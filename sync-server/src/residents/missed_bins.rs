//! Missed bins: a resident says their bin was not emptied. The crew's
//! record of the round answers first. If the crew logged an outcome the
//! service explains to residents ("not put out", "contaminated"), the
//! resident is told so, with the crew's photo, and no job is raised. If the
//! round is finished and says nothing of the kind, a missed-collection job
//! sends the crew back. If the round is not finished on the server yet, the
//! server does not guess: the job is raised with a check waiting for the
//! round, and when the round finishes the check closes the job with the
//! crew's explanation and photo, or leaves it for the crew.

use doorstep_shared::blob::RenditionKind;
use doorstep_shared::ids::{BlobHash, JobId, PhotoId, PropertyId, RoundId, TenantId, TransitionId};
use doorstep_shared::job::{JobEditor, OfficeEditor, PhotoRef};
use doorstep_shared::round::Round;
use doorstep_shared::service::ServiceDefinition;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::{Date, Timestamp, uk};
use doorstep_shared::transition::Evidence;

use crate::error::ApiError;
use crate::intake::{Created, NewContact, NewJob};
use crate::secrets::random;
use crate::state::{AppState, WorkError, resident_actor};

/// The service missed-bin reports become jobs of.
pub const SERVICE: &str = "missed-collection";
/// The photo kind the crew's photo is filed under on such a job.
const CREW_PHOTO: &str = "crew";
/// The transition that closes a report the round explains.
const EXPLAIN: &str = "explain";

/// A property on a recent round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The round.
    pub round: RoundId,
    /// The property.
    pub property: PropertyId,
    /// Its address on one line.
    pub address: String,
    /// The collection day.
    pub date: Date,
}

/// What the crew's record says about one property.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The crew logged why the bin was left.
    Explained {
        /// The service's words for the resident.
        explanation: String,
        /// The crew's note, if any.
        note: Option<String>,
        /// When it was logged.
        at: Timestamp,
        /// The crew's photo.
        photo: Option<Box<PhotoRef>>,
    },
    /// The round is finished and explains nothing: the bin was missed.
    Missed,
    /// The round is not finished on the server yet.
    NotFinished,
}

/// What the crew's record of `round` says about `property`.
pub fn finding(round: &Round, service: &ServiceDefinition, property: PropertyId) -> Finding {
    let finished = service
        .state(round.status(service))
        .is_some_and(|state| state.terminal);
    if !finished {
        return Finding::NotFinished;
    }
    let Some(outcome) = round.outcomes.get(&property) else {
        return Finding::Missed;
    };
    match service
        .outcome(&outcome.kind)
        .and_then(|kind| kind.resident_explanation.clone())
    {
        Some(explanation) => Finding::Explained {
            explanation,
            note: outcome.note.clone(),
            at: outcome.at,
            photo: outcome
                .photo
                .and_then(|photo| round.photos.get(&photo))
                .cloned()
                .map(Box::new),
        },
        None => Finding::Missed,
    }
}

/// Postcodes compared as residents type them: any case, any spacing.
fn same_postcode(a: &str, b: &str) -> bool {
    let squash = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect()
    };
    squash(a) == squash(b)
}

/// Why waiting missed-bin reports could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The store failed.
    #[error(transparent)]
    Work(#[from] WorkError),
    /// The job could not be answered.
    #[error(transparent)]
    Edit(#[from] crate::office::edits::EditError),
    /// No randomness for the answer's ids.
    #[error(transparent)]
    Randomness(#[from] crate::secrets::NoRandomness),
}

async fn load_round(
    state: &AppState,
    round: RoundId,
) -> Result<Option<(TenantId, Round)>, WorkError> {
    Ok(state
        .with_sync(move |sync, _| sync.load(DocumentId::Round(round)))
        .await?
        .and_then(|(tenant, document)| Round::load(&document).ok().map(|round| (tenant, round))))
}

/// The properties at `postcode` on the council's rounds of today and
/// yesterday (UK time), by address, latest round first.
pub async fn stops_at(
    state: &AppState,
    tenant: TenantId,
    postcode: &str,
    now: Timestamp,
) -> Result<Vec<Stop>, ApiError> {
    let (today, _) = uk::local(now);
    let yesterday = Date::from_days_since_epoch(today.days_since_epoch() - 1);
    let rounds = state
        .with_store(move |store| store.round_ids(tenant))
        .await?;
    let mut stops = Vec::new();
    for id in rounds {
        let Some((_, round)) = load_round(state, id).await? else {
            continue;
        };
        if round.office.date != today && round.office.date != yesterday {
            continue;
        }
        for (property, details) in &round.office.properties {
            let here = details
                .address
                .postcode
                .as_deref()
                .is_some_and(|code| same_postcode(code, postcode));
            if here {
                stops.push(Stop {
                    round: id,
                    property: *property,
                    address: details.address.one_line(),
                    date: round.office.date,
                });
            }
        }
    }
    stops.sort_by(|a, b| a.address.cmp(&b.address).then(b.date.cmp(&a.date)));
    Ok(stops)
}

/// How a report was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The crew's record explains it; no job.
    Explained {
        /// The property's address.
        address: String,
        /// What the crew found.
        finding: Box<Finding>,
    },
    /// A job sends the crew back.
    Raised(Created),
    /// A job waits for the round to finish.
    Waiting(Created),
}

/// Answers a resident's report that the bin at `property` on `round` was
/// not emptied; `None` if there is no such stop.
pub async fn report(
    state: &AppState,
    round_id: RoundId,
    property: PropertyId,
    contact: NewContact,
    now: Timestamp,
) -> Result<Option<Answer>, ApiError> {
    let Some((tenant, round)) = load_round(state, round_id).await? else {
        return Ok(None);
    };
    let Some(details) = round.office.properties.get(&property) else {
        return Ok(None);
    };
    let Some(round_service) = state.services().get(&round.office.service) else {
        return Ok(None);
    };
    let address = details.address.one_line();
    let found = finding(&round, round_service, property);
    if let Finding::Explained { .. } = found {
        return Ok(Some(Answer::Explained {
            address,
            finding: Box::new(found),
        }));
    }
    let service = SERVICE
        .parse()
        .map_err(|_| ApiError::BadRequest("missed collections are not set up".into()))?;
    let new_job = NewJob {
        service,
        priority: "standard".parse().ok(),
        address,
        description: format!(
            "Bin not emptied on {} ({}), reported by the resident.",
            round.office.date.in_words(),
            round.office.reference
        ),
        assignee: Some(doorstep_shared::job::Assignee::Team(round.office.crew)),
        contact: Some(contact),
        photos: Vec::new(),
    };
    let created = crate::intake::create(state, resident_actor(), tenant, new_job, now).await?;
    let id = created.job;
    if found == Finding::NotFinished {
        let check = MissedBinCheck {
            tenant,
            job: id,
            round: round_id,
            property,
        };
        state
            .with_store(move |store| store.put_missed_bin_check(&check, now))
            .await?;
        return Ok(Some(Answer::Waiting(created)));
    }
    Ok(Some(Answer::Raised(created)))
}

/// Checks the reports waiting for rounds that have since finished: a
/// report the crew's record explains is closed with the explanation and
/// the crew's photo (and the resident told); one it does not stays for the
/// crew. Returns how many were checked.
pub async fn check_waiting(state: &AppState, now: Timestamp) -> Result<usize, CheckError> {
    let waiting = state.with_store(|store| store.missed_bin_checks()).await?;
    let mut checked = 0;
    for check in waiting {
        let Some((_, round)) = load_round(state, check.round).await? else {
            continue;
        };
        let Some(round_service) = state.services().get(&round.office.service) else {
            continue;
        };
        match finding(&round, round_service, check.property) {
            Finding::NotFinished => continue,
            Finding::Missed => {}
            Finding::Explained {
                explanation, photo, ..
            } => {
                let request = TransitionId::from_random_bytes(random::<16>()?);
                let photo_id = PhotoId::from_random_bytes(random::<16>()?);
                crate::office::edits::edit_job_document(
                    state,
                    check.job,
                    move |document, server| {
                        let Some(service) =
                            SERVICE.parse().ok().and_then(|id| server.services.get(&id))
                        else {
                            return Ok(());
                        };
                        if let (Some(photo), Ok(kind)) = (photo, CREW_PHOTO.parse()) {
                            let mut photo = *photo;
                            // The same renditions, filed on the resident's job
                            // so their link may show them.
                            photo.kind = kind;
                            photo.original = None;
                            photo.location = None;
                            JobEditor::new(document, server.system.clone())?
                                .add_photo(photo_id, &photo)?;
                        }
                        let Ok(explain) = EXPLAIN.parse() else {
                            return Ok(());
                        };
                        let evidence = Evidence {
                            photos: Vec::new(),
                            note: Some(explanation),
                        };
                        OfficeEditor::new(document)?.make_as_system(
                            service,
                            &explain,
                            &server.system,
                            request,
                            evidence,
                            now,
                        )?;
                        Ok(())
                    },
                )
                .await?;
            }
        }
        let job = check.job;
        state
            .with_store(move |store| store.remove_missed_bin_check(job))
            .await?;
        checked += 1;
    }
    Ok(checked)
}

/// Whether `hash` is the display rendition of the crew's photo for an
/// explained outcome on `round`, to be shown to residents: the only round
/// photos they see, and only while the round is today's or yesterday's
/// (when a report is answered from it), sent by a phone of the round's crew
/// for the round itself.
pub async fn explained_photo(
    state: &AppState,
    round: RoundId,
    hash: BlobHash,
) -> Result<bool, ApiError> {
    let Some((_, loaded)) = load_round(state, round).await? else {
        return Ok(false);
    };
    let Some(service) = state.services().get(&loaded.office.service) else {
        return Ok(false);
    };
    // Shown only while a report can be answered from the round.
    let (today, _) = uk::local(state.clock().now());
    let yesterday = Date::from_days_since_epoch(today.days_since_epoch() - 1);
    if loaded.office.date != today && loaded.office.date != yesterday {
        return Ok(false);
    }
    let explained = loaded.outcomes.keys().any(|property| {
        matches!(
            finding(&loaded, service, *property),
            Finding::Explained { photo: Some(photo), .. } if photo.display == Some(hash)
        )
    });
    if !explained {
        return Ok(false);
    }
    // The picture must be this round's own, sent by a phone of its crew:
    // never a hash borrowed from another document, nor one the office or a
    // phone outside the crew put there.
    let crew = loaded.office.crew;
    let doc = DocumentId::Round(round);
    state
        .with_store(move |store| {
            for holder in store.blob_holders(hash)? {
                let own =
                    holder.doc == doc && holder.kind == RenditionKind::Display && !holder.borrowed;
                if let (true, Some(device)) = (own, holder.added_by)
                    && store.device_in_team(device, crew)?
                {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
        .map_err(Into::into)
}

/// A report waiting for its round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedBinCheck {
    /// The council.
    pub tenant: TenantId,
    /// The report's job.
    pub job: JobId,
    /// The round the bin was on.
    pub round: RoundId,
    /// The property.
    pub property: PropertyId,
}
