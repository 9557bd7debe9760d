//! One row per job for lists: written beside each document change (in the
//! app's SQLite and on the server), so a list of thousands of jobs reads rows
//! instead of loading documents.

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, ServiceId, StateId};
use crate::job::{Appointment, Job};
use crate::service::ServiceDefinition;
use crate::time::Timestamp;

/// What a job list shows about one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job.
    pub job: JobId,
    /// The reference residents quote.
    pub reference: String,
    /// The service.
    pub service: ServiceId,
    /// The service's name.
    pub service_name: String,
    /// The current status.
    pub status: StateId,
    /// The status in plain words.
    pub status_label: String,
    /// The address on one line.
    pub address: String,
    /// The start of the booked slot.
    pub appointment_starts: Option<Timestamp>,
    /// The end of the booked slot.
    pub appointment_ends: Option<Timestamp>,
    /// Requests waiting for the server's verdict.
    pub pending_requests: usize,
}

impl JobSummary {
    /// Summarises a job under its service definition.
    pub fn of(job_id: JobId, job: &Job, service: &ServiceDefinition) -> Self {
        let status = job.status(service).clone();
        let (starts, ends) = match job.office.appointment {
            Some(Appointment { starts, ends }) => (Some(starts), Some(ends)),
            None => (None, None),
        };
        Self {
            job: job_id,
            reference: job.office.reference.clone(),
            service: service.id.clone(),
            service_name: service.name.clone(),
            status_label: service.state_label(&status).to_owned(),
            status,
            address: job.office.address.one_line(),
            appointment_starts: starts,
            appointment_ends: ends,
            pending_requests: job.transitions().pending().len(),
        }
    }
}
