//! The back office's view of a council's people and their devices: who
//! works there (active or not), in which team, which phones they have and
//! when each last synced. Deactivating someone refuses their devices and
//! their sign-in at once; moving them between teams changes what their
//! phones see, so it moves the council's scope version on.

use doorstep_shared::ids::{DeviceId, JobId, TeamId, TenantId, UserId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;

use super::db::Tx;
use super::{Store, StoreError};
pub use crate::office::{DeviceRow, Person};
use crate::{args, sql};

/// A job with whom it is assigned to: a person, a team, or nobody.
pub type JobAssignee = (JobId, Option<UserId>, Option<TeamId>);

/// Whether `user` works for `tenant`.
fn works_for(tx: &mut Tx<'_, '_>, user: &str, tenant: &str) -> Result<bool, StoreError> {
    let count: i64 = tx
        .query_one(
            sql!("SELECT COUNT(*) FROM user_tenants WHERE user_id = ?1 AND tenant = ?2"),
            args![user, tenant],
        )?
        .get(0)?;
    Ok(count > 0)
}

impl Store {
    /// The devices of a council's people: in use first, then by name.
    pub fn devices(&self, tenant: TenantId) -> Result<Vec<DeviceRow>, StoreError> {
        self.read(|tx| {
            tx.query(
                sql!(
                    "SELECT d.id, d.user_id, u.name, d.enrolled_at, d.last_sync_at, d.revoked_at
                     FROM devices d JOIN users u ON u.id = d.user_id
                     JOIN user_tenants t ON t.user_id = d.user_id
                     WHERE t.tenant = ?1
                     ORDER BY d.revoked_at IS NOT NULL, u.name, d.enrolled_at DESC, d.id"
                ),
                args![tenant.to_string()],
            )?
            .iter()
            .map(|row| {
                Ok(DeviceRow {
                    device: row.parse(0, "device id")?,
                    user: row.parse(1, "user id")?,
                    name: row.get(2)?,
                    enrolled_at: Timestamp::from_millis(row.get(3)?),
                    last_sync_at: row.get::<Option<i64>>(4)?.map(Timestamp::from_millis),
                    revoked_at: row.get::<Option<i64>>(5)?.map(Timestamp::from_millis),
                })
            })
            .collect()
        })
    }

    /// Notes that a device has just synced.
    pub fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                sql!("UPDATE devices SET last_sync_at = ?2 WHERE id = ?1"),
                args![device.to_string(), now.as_millis()],
            )?;
            Ok(())
        })
    }

    /// Everyone who works or worked for a council, by name.
    pub fn roster(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError> {
        self.read(|tx| {
            let mut roster = tx
                .query(
                    sql!(
                        "SELECT u.id, u.name, u.role, u.active FROM users u
                         JOIN user_tenants t ON t.user_id = u.id WHERE t.tenant = ?1
                         ORDER BY u.name, u.id"
                    ),
                    args![tenant.to_string()],
                )?
                .iter()
                .map(|row| {
                    Ok(Person {
                        user: row.parse(0, "user id")?,
                        name: row.get(1)?,
                        role: row.parse(2, "role")?,
                        active: row.get(3)?,
                        teams: Vec::new(),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let members = tx.query(
                sql!(
                    "SELECT m.user_id, m.team FROM team_members m
                     JOIN teams t ON t.id = m.team WHERE t.tenant = ?1 ORDER BY m.team"
                ),
                args![tenant.to_string()],
            )?;
            for row in members {
                let user: UserId = row.parse(0, "user id")?;
                let team: TeamId = row.parse(1, "team id")?;
                if let Some(person) = roster.iter_mut().find(|person| person.user == user) {
                    person.teams.push(team);
                }
            }
            Ok(roster)
        })
    }

    /// Deactivates (revoking their devices and ending their sessions) or
    /// reactivates a council's user. Returns false if they do not work
    /// for `tenant`.
    pub fn set_active(
        &self,
        user: UserId,
        tenant: TenantId,
        active: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let user = user.to_string();
        self.write(|tx| {
            if !works_for(tx, &user, &tenant.to_string())? {
                return Ok(false);
            }
            tx.execute(
                sql!("UPDATE users SET active = ?2 WHERE id = ?1"),
                args![user.as_str(), active],
            )?;
            tx.execute(
                sql!("UPDATE staff_accounts SET active = ?2 WHERE user_id = ?1"),
                args![user.as_str(), active],
            )?;
            if !active {
                tx.execute(
                    sql!(
                        "UPDATE devices SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL"
                    ),
                    args![user.as_str(), now.as_millis()],
                )?;
                tx.execute(
                    sql!("DELETE FROM staff_sessions WHERE user_id = ?1"),
                    args![user.as_str()],
                )?;
            }
            Ok(true)
        })
    }

    /// Puts a council's user in `team` (one of the council's), or in none,
    /// leaving the council's other teams. Returns false if the user or
    /// team is not the council's.
    pub fn set_team(
        &self,
        user: UserId,
        tenant: TenantId,
        team: Option<TeamId>,
    ) -> Result<bool, StoreError> {
        let (user, tenant) = (user.to_string(), tenant.to_string());
        self.write(|tx| {
            let team_known = match team {
                Some(team) => {
                    let count: i64 = tx
                        .query_one(
                            sql!("SELECT COUNT(*) FROM teams WHERE id = ?1 AND tenant = ?2"),
                            args![team.to_string(), tenant.as_str()],
                        )?
                        .get(0)?;
                    count > 0
                }
                None => true,
            };
            if !works_for(tx, &user, &tenant)? || !team_known {
                return Ok(false);
            }
            tx.execute(
                sql!(
                    "DELETE FROM team_members WHERE user_id = ?1
                     AND team IN (SELECT id FROM teams WHERE tenant = ?2)"
                ),
                args![user.as_str(), tenant.as_str()],
            )?;
            if let Some(team) = team {
                tx.execute(
                    sql!("INSERT INTO team_members (team, user_id) VALUES (?1, ?2)"),
                    args![team.to_string(), user.as_str()],
                )?;
            }
            tx.execute(
                sql!("UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1"),
                args![tenant.as_str()],
            )?;
            Ok(true)
        })
    }

    /// Each of a council's jobs with whom it is assigned to.
    pub fn job_assignees(&self, tenant: TenantId) -> Result<Vec<JobAssignee>, StoreError> {
        self.read(|tx| {
            let rows = tx.query(
                sql!(
                    "SELECT id, assignee_user, assignee_team FROM sync_documents
                     WHERE tenant = ?1 AND kind = 'job'"
                ),
                args![tenant.to_string()],
            )?;
            let mut assignees = Vec::new();
            for row in rows {
                let DocumentId::Job(job) = row.parse(0, "document id")? else {
                    continue;
                };
                assignees.push((
                    job,
                    row.parse_opt(1, "user id")?,
                    row.parse_opt(2, "team id")?,
                ));
            }
            Ok(assignees)
        })
    }
}
