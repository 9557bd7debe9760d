//! The outbox on PostgreSQL: the same rows as on SQLite; a claim skips rows
//! another node has locked, so two nodes never take the same row.

use doorstep_shared::time::Timestamp;

use super::super::outbox::{COLUMNS, Finish, OutboxRecords, OutboxRow, RawRow};
use super::super::{StoreError, parse};
use super::PgStore;
use doorstep_shared::ids::{JobId, TenantId};

fn raw(row: &postgres::Row) -> RawRow {
    RawRow {
        id: row.get(0),
        tenant: row.get(1),
        job: row.get(2),
        key: row.get(3),
        channel: row.get(4),
        event: row.get(5),
        happened_at: row.get(6),
        status: row.get(7),
        attempts: row.get(8),
        recipient: row.get(9),
        subject: row.get(10),
        body: row.get(11),
        outcome: row.get(12),
        sent_at: row.get(13),
        provider_ref: row.get(14),
        delivery: row.get(15),
    }
}

impl OutboxRecords for PgStore {
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.with_client(|client| {
            let rows = client.query(
                &format!(
                    "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1
                     WHERE id IN (
                         SELECT id FROM outbox
                         WHERE status = 'pending' AND next_attempt <= $1
                           AND (claimed_until IS NULL OR claimed_until <= $1)
                         ORDER BY next_attempt, id LIMIT $3
                         FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}"
                ),
                &[&now.as_millis(), &lease_until.as_millis(), &(limit as i64)],
            )?;
            let mut claimed = rows
                .iter()
                .map(|row| raw(row).parse())
                .collect::<Result<Vec<_>, _>>()?;
            claimed.sort_by_key(|row| row.id);
            Ok(claimed)
        })
    }

    fn finish(&self, id: i64, finish: &Finish) -> Result<(), StoreError> {
        self.with_client(|client| {
            match finish {
                Finish::Sent {
                    recipient,
                    subject,
                    body,
                    provider_ref,
                    at,
                } => client.execute(
                    "UPDATE outbox SET status = 'sent', claimed_until = NULL, recipient = $2,
                         subject = $3, body = $4, provider_ref = $5, sent_at = $6, outcome = NULL
                     WHERE id = $1",
                    &[&id, recipient, subject, body, provider_ref, &at.as_millis()],
                )?,
                Finish::Skipped(why) => client.execute(
                    "UPDATE outbox SET status = 'skipped', claimed_until = NULL, outcome = $2
                     WHERE id = $1",
                    &[&id, why],
                )?,
                Finish::Retry { at, why } => client.execute(
                    "UPDATE outbox SET claimed_until = NULL, next_attempt = $2, outcome = $3
                     WHERE id = $1",
                    &[&id, &at.as_millis(), why],
                )?,
                Finish::Failed(why) => client.execute(
                    "UPDATE outbox SET status = 'failed', claimed_until = NULL, outcome = $2
                     WHERE id = $1",
                    &[&id, why],
                )?,
                Finish::Hold { until, why } => client.execute(
                    "UPDATE outbox SET claimed_until = NULL, next_attempt = $2, outcome = $3,
                         attempts = attempts - 1
                     WHERE id = $1",
                    &[&id, &until.as_millis(), why],
                )?,
            };
            Ok(())
        })
    }

    fn put_tracking_token(
        &self,
        hash: &[u8],
        tenant: TenantId,
        job: JobId,
        issued_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "INSERT INTO tracking_tokens (hash, tenant, job, issued_at) VALUES ($1, $2, $3, $4)",
                &[&hash, &tenant.to_string(), &job.to_string(), &issued_at.as_millis()],
            )?;
            Ok(())
        })
    }

    fn tracking_token(&self, hash: &[u8]) -> Result<Option<(TenantId, JobId)>, StoreError> {
        self.with_client(|client| {
            let row = client.query_opt(
                "SELECT tenant, job FROM tracking_tokens WHERE hash = $1",
                &[&hash],
            )?;
            row.map(|row| {
                Ok((
                    parse("tenant id", row.get::<_, String>(0))?,
                    parse("job id", row.get::<_, String>(1))?,
                ))
            })
            .transpose()
        })
    }

    fn record_delivery(
        &self,
        provider_ref: &str,
        status: &str,
    ) -> Result<Option<OutboxRow>, StoreError> {
        self.with_client(|client| {
            let row = client.query_opt(
                &format!(
                    "UPDATE outbox SET delivery = $2 WHERE provider_ref = $1 RETURNING {COLUMNS}"
                ),
                &[&provider_ref, &status],
            )?;
            row.map(|row| raw(&row).parse()).transpose()
        })
    }

    fn outbox(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        self.with_client(|client| {
            let rows = client.query(
                &format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1"),
                &[&(limit as i64)],
            )?;
            rows.iter().map(|row| raw(row).parse()).collect()
        })
    }

    fn outbox_for_job(&self, job: JobId) -> Result<Vec<OutboxRow>, StoreError> {
        self.with_client(|client| {
            let rows = client.query(
                &format!("SELECT {COLUMNS} FROM outbox WHERE job = $1 ORDER BY id"),
                &[&job.to_string()],
            )?;
            rows.iter().map(|row| raw(row).parse()).collect()
        })
    }
}
