//! The back office's view of a council's people and their devices: who
//! works there (active or not), in which team, which phones they have and
//! when each last synced. Deactivating someone refuses their devices and
//! their sign-in at once; moving them between teams changes what their
//! phones see, so it moves the council's scope version on.

use doorstep_shared::ids::{DeviceId, JobId, TeamId, TenantId, UserId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;
use rusqlite::params;

use super::{SqliteStore, StoreError, parse};

/// One enrolled device, as the device list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// The device.
    pub device: DeviceId,
    /// Whose it is.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// When it was enrolled.
    pub enrolled_at: Timestamp,
    /// When it last synced, if it has.
    pub last_sync_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// One person working for a council.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The user.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// What they do.
    pub role: Role,
    /// Whether they still work here.
    pub active: bool,
    /// The council's teams they are in.
    pub teams: Vec<TeamId>,
}

/// A job with whom it is assigned to: a person, a team, or nobody.
pub type JobAssignee = (JobId, Option<UserId>, Option<TeamId>);

/// People, teams and devices for the back office: the same on every
/// backend.
pub trait Roster {
    /// The devices of a council's people: in use first, then by name.
    fn devices(&self, tenant: TenantId) -> Result<Vec<DeviceRow>, StoreError>;

    /// Notes that a device has just synced.
    fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StoreError>;

    /// Everyone who works or worked for a council, by name.
    fn roster(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError>;

    /// Deactivates (revoking their devices and ending their sessions) or
    /// reactivates a council's user. Returns false if they do not work
    /// for `tenant`.
    fn set_active(
        &self,
        user: UserId,
        tenant: TenantId,
        active: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Puts a council's user in `team` (one of the council's), or in none,
    /// leaving the council's other teams. Returns false if the user or
    /// team is not the council's.
    fn set_team(
        &self,
        user: UserId,
        tenant: TenantId,
        team: Option<TeamId>,
    ) -> Result<bool, StoreError>;

    /// Each of a council's jobs with whom it is assigned to.
    fn job_assignees(&self, tenant: TenantId) -> Result<Vec<JobAssignee>, StoreError>;
}

/// The device list's query; `?1` is the council.
pub(super) const DEVICES_QUERY: &str =
    "SELECT d.id, d.user_id, u.name, d.enrolled_at, d.last_sync_at, d.revoked_at
     FROM devices d JOIN users u ON u.id = d.user_id
     JOIN user_tenants t ON t.user_id = d.user_id
     WHERE t.tenant = ?1
     ORDER BY d.revoked_at IS NOT NULL, u.name, d.enrolled_at DESC, d.id";

/// The roster's people; `?1` is the council.
pub(super) const ROSTER_QUERY: &str = "SELECT u.id, u.name, u.role, u.active FROM users u
     JOIN user_tenants t ON t.user_id = u.id WHERE t.tenant = ?1 ORDER BY u.name, u.id";

/// The roster's team memberships; `?1` is the council.
pub(super) const MEMBERS_QUERY: &str = "SELECT m.user_id, m.team FROM team_members m
     JOIN teams t ON t.id = m.team WHERE t.tenant = ?1 ORDER BY m.team";

/// The council's jobs and their assignees; `?1` is the council.
pub(super) const ASSIGNEES_QUERY: &str =
    "SELECT id, assignee_user, assignee_team FROM sync_documents
     WHERE tenant = ?1 AND kind = 'job'";

/// Device rows as both databases return them.
pub(super) type RawDevice = (String, String, String, i64, Option<i64>, Option<i64>);

pub(super) fn parse_devices(
    rows: impl IntoIterator<Item = RawDevice>,
) -> Result<Vec<DeviceRow>, StoreError> {
    rows.into_iter()
        .map(|(device, user, name, enrolled, synced, revoked)| {
            Ok(DeviceRow {
                device: parse("device id", device)?,
                user: parse("user id", user)?,
                name,
                enrolled_at: Timestamp::from_millis(enrolled),
                last_sync_at: synced.map(Timestamp::from_millis),
                revoked_at: revoked.map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// People rows (id, name, role, active) and memberships (user, team) as
/// both databases return them.
pub(super) fn parse_roster(
    people: impl IntoIterator<Item = (String, String, String, bool)>,
    members: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<Person>, StoreError> {
    let mut roster = people
        .into_iter()
        .map(|(user, name, role, active)| {
            Ok(Person {
                user: parse("user id", user)?,
                name,
                role: parse("role", role)?,
                active,
                teams: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    for (user, team) in members {
        let user: UserId = parse("user id", user)?;
        let team: TeamId = parse("team id", team)?;
        if let Some(person) = roster.iter_mut().find(|person| person.user == user) {
            person.teams.push(team);
        }
    }
    Ok(roster)
}

/// Assignee rows (document id, user, team) as both databases return them.
pub(super) fn parse_assignees(
    rows: impl IntoIterator<Item = (String, Option<String>, Option<String>)>,
) -> Result<Vec<JobAssignee>, StoreError> {
    rows.into_iter()
        .filter_map(|(document, user, team)| {
            let job = match parse::<DocumentId>("document id", document) {
                Ok(DocumentId::Job(job)) => job,
                Ok(_) => return None,
                Err(error) => return Some(Err(error)),
            };
            let user = user.map(|user| parse("user id", user)).transpose();
            let team = team.map(|team| parse("team id", team)).transpose();
            Some(user.and_then(|user| Ok((job, user, team?))))
        })
        .collect()
}

impl Roster for SqliteStore {
    fn devices(&self, tenant: TenantId) -> Result<Vec<DeviceRow>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare(DEVICES_QUERY)?;
        let rows = statement
            .query_map(params![tenant.to_string()], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })?
            .collect::<Result<Vec<RawDevice>, _>>()?;
        parse_devices(rows)
    }

    fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StoreError> {
        self.connection()?.execute(
            "UPDATE devices SET last_sync_at = ?2 WHERE id = ?1",
            params![device.to_string(), now.as_millis()],
        )?;
        Ok(())
    }

    fn roster(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError> {
        let connection = self.connection()?;
        let people = connection
            .prepare(ROSTER_QUERY)?
            .query_map(params![tenant.to_string()], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get::<_, i64>(3)? != 0,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let members = connection
            .prepare(MEMBERS_QUERY)?
            .query_map(params![tenant.to_string()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        parse_roster(people, members)
    }

    fn set_active(
        &self,
        user: UserId,
        tenant: TenantId,
        active: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        let user = user.to_string();
        let works_here: i64 = transaction.query_row(
            "SELECT COUNT(*) FROM user_tenants WHERE user_id = ?1 AND tenant = ?2",
            params![user, tenant.to_string()],
            |row| row.get(0),
        )?;
        if works_here == 0 {
            return Ok(false);
        }
        transaction.execute(
            "UPDATE users SET active = ?2 WHERE id = ?1",
            params![user, i64::from(active)],
        )?;
        transaction.execute(
            "UPDATE staff_accounts SET active = ?2 WHERE user_id = ?1",
            params![user, i64::from(active)],
        )?;
        if !active {
            transaction.execute(
                "UPDATE devices SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                params![user, now.as_millis()],
            )?;
            transaction.execute(
                "DELETE FROM staff_sessions WHERE user_id = ?1",
                params![user],
            )?;
        }
        transaction.commit()?;
        Ok(true)
    }

    fn set_team(
        &self,
        user: UserId,
        tenant: TenantId,
        team: Option<TeamId>,
    ) -> Result<bool, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        let (user, tenant) = (user.to_string(), tenant.to_string());
        let known: i64 = transaction.query_row(
            "SELECT COUNT(*) FROM user_tenants WHERE user_id = ?1 AND tenant = ?2",
            params![user, tenant],
            |row| row.get(0),
        )?;
        let team_known: i64 = match team {
            Some(team) => transaction.query_row(
                "SELECT COUNT(*) FROM teams WHERE id = ?1 AND tenant = ?2",
                params![team.to_string(), tenant],
                |row| row.get(0),
            )?,
            None => 1,
        };
        if known == 0 || team_known == 0 {
            return Ok(false);
        }
        transaction.execute(
            "DELETE FROM team_members WHERE user_id = ?1
             AND team IN (SELECT id FROM teams WHERE tenant = ?2)",
            params![user, tenant],
        )?;
        if let Some(team) = team {
            transaction.execute(
                "INSERT INTO team_members (team, user_id) VALUES (?1, ?2)",
                params![team.to_string(), user],
            )?;
        }
        transaction.execute(
            "UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1",
            params![tenant],
        )?;
        transaction.commit()?;
        Ok(true)
    }

    fn job_assignees(&self, tenant: TenantId) -> Result<Vec<JobAssignee>, StoreError> {
        let connection = self.connection()?;
        let rows = connection
            .prepare(ASSIGNEES_QUERY)?
            .query_map(params![tenant.to_string()], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        parse_assignees(rows)
    }
}
