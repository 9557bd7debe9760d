//! The back office's view of a council's people and their devices: who
//! works there (active or not), in which team, which phones they have and
//! when each last synced. Deactivating someone refuses their devices and
//! their sign-in at once; moving them between teams changes what their
//! phones see, so it moves the council's scope version on.

use doorstep_shared::ids::{DeviceId, JobId, TeamId, TenantId, UserId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;

use super::db::{FromRow, Row, Tx};
use super::{Store, StoreError};
pub use crate::office::{DeviceRow, Person};
use crate::{args, sql};

/// A job with whom it is assigned to: a person, a team, or nobody.
pub type JobAssignee = (JobId, Option<UserId>, Option<TeamId>);

/// Whether `user` works for `tenant`.
fn works_for(tx: &mut Tx<'_, '_>, user: UserId, tenant: TenantId) -> Result<bool, StoreError> {
    let count: i64 = tx.one(
        sql!("SELECT COUNT(*) FROM user_tenants WHERE user_id = ?1 AND tenant = ?2"),
        args![user, tenant],
    )?;
    Ok(count > 0)
}

impl FromRow for DeviceRow {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        Ok(DeviceRow {
            device: row.get(0)?,
            user: row.get(1)?,
            name: row.get(2)?,
            enrolled_at: row.get(3)?,
            last_sync_at: row.get(4)?,
            revoked_at: row.get(5)?,
        })
    }
}

impl Store {
    /// The devices of a council's people: in use first, then by name.
    pub fn devices(&self, tenant: TenantId) -> Result<Vec<DeviceRow>, StoreError> {
        self.all(
            sql!(
                "SELECT d.id, d.user_id, u.name, d.enrolled_at, d.last_sync_at, d.revoked_at
                 FROM devices d JOIN users u ON u.id = d.user_id
                 JOIN user_tenants t ON t.user_id = d.user_id
                 WHERE t.tenant = ?1
                 ORDER BY d.revoked_at IS NOT NULL, u.name, d.enrolled_at DESC, d.id"
            ),
            args![tenant],
        )
    }

    /// Notes that a device has just synced.
    pub fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StoreError> {
        self.execute(
            sql!("UPDATE devices SET last_sync_at = ?2 WHERE id = ?1"),
            args![device, now],
        )
        .map(drop)
    }

    /// Everyone who works or worked for a council, by name.
    pub fn roster(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError> {
        self.read(|tx| {
            let people: Vec<(UserId, String, Role, bool)> = tx.all(
                sql!(
                    "SELECT u.id, u.name, u.role, t.active FROM users u
                     JOIN user_tenants t ON t.user_id = u.id WHERE t.tenant = ?1
                     ORDER BY u.name, u.id"
                ),
                args![tenant],
            )?;
            let mut roster: Vec<Person> = people
                .into_iter()
                .map(|(user, name, role, active)| Person {
                    user,
                    name,
                    role,
                    active,
                    teams: Vec::new(),
                })
                .collect();
            let members: Vec<(UserId, TeamId)> = tx.all(
                sql!(
                    "SELECT m.user_id, m.team FROM team_members m
                     JOIN teams t ON t.id = m.team WHERE t.tenant = ?1 ORDER BY m.team"
                ),
                args![tenant],
            )?;
            for (user, team) in members {
                if let Some(person) = roster.iter_mut().find(|person| person.user == user) {
                    person.teams.push(team);
                }
            }
            Ok(roster)
        })
    }

    /// Deactivates a user for one council (ending their sessions for it;
    /// their phones stop receiving its work, and are revoked once no
    /// council has them active) or reactivates them. Their work for other
    /// councils goes on. Returns false if they do not work for `tenant`.
    pub fn set_active(
        &self,
        user: UserId,
        tenant: TenantId,
        active: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            if !works_for(tx, user, tenant)? {
                return Ok(false);
            }
            tx.execute(
                sql!("UPDATE user_tenants SET active = ?3 WHERE user_id = ?1 AND tenant = ?2"),
                args![user, tenant, active],
            )?;
            if !active {
                tx.execute(
                    sql!("DELETE FROM staff_sessions WHERE user_id = ?1 AND tenant = ?2"),
                    args![user, tenant],
                )?;
                tx.execute(
                    sql!(
                        "UPDATE devices SET revoked_at = ?2
                         WHERE user_id = ?1 AND revoked_at IS NULL AND NOT EXISTS (
                             SELECT 1 FROM user_tenants WHERE user_id = ?1 AND active)"
                    ),
                    args![user, now],
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
        self.write(|tx| {
            let team_known = match team {
                Some(team) => {
                    let count: i64 = tx.one(
                        sql!("SELECT COUNT(*) FROM teams WHERE id = ?1 AND tenant = ?2"),
                        args![team, tenant],
                    )?;
                    count > 0
                }
                None => true,
            };
            if !works_for(tx, user, tenant)? || !team_known {
                return Ok(false);
            }
            tx.execute(
                sql!(
                    "DELETE FROM team_members WHERE user_id = ?1
                     AND team IN (SELECT id FROM teams WHERE tenant = ?2)"
                ),
                args![user, tenant],
            )?;
            if let Some(team) = team {
                tx.execute(
                    sql!("INSERT INTO team_members (team, user_id) VALUES (?1, ?2)"),
                    args![team, user],
                )?;
            }
            tx.execute(
                sql!("UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1"),
                args![tenant],
            )?;
            Ok(true)
        })
    }

    /// Each of a council's jobs with whom it is assigned to.
    pub fn job_assignees(&self, tenant: TenantId) -> Result<Vec<JobAssignee>, StoreError> {
        let rows: Vec<(DocumentId, Option<UserId>, Option<TeamId>)> = self.all(
            sql!(
                "SELECT id, assignee_user, assignee_team FROM sync_documents
                 WHERE tenant = ?1 AND kind = 'job'"
            ),
            args![tenant],
        )?;
        rows.into_iter()
            .map(|(doc, user, team)| Ok((super::job_of(doc)?, user, team)))
            .collect()
    }
}
