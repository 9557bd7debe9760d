//! People, teams and devices for the back office on PostgreSQL: the same
//! rows as on SQLite.

use doorstep_shared::ids::{DeviceId, TeamId, TenantId, UserId};
use doorstep_shared::time::Timestamp;

use super::super::StoreError;
use super::super::roster::{
    ASSIGNEES_QUERY, DEVICES_QUERY, DeviceRow, JobAssignee, MEMBERS_QUERY, Person, ROSTER_QUERY,
    Roster, parse_assignees, parse_devices, parse_roster,
};
use super::PgStore;

impl Roster for PgStore {
    fn devices(&self, tenant: TenantId) -> Result<Vec<DeviceRow>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(&DEVICES_QUERY.replace("?1", "$1"), &[&tenant.to_string()])?)
        })?;
        parse_devices(rows.iter().map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
            )
        }))
    }

    fn touch_device(&self, device: DeviceId, now: Timestamp) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "UPDATE devices SET last_sync_at = $2 WHERE id = $1",
                &[&device.to_string(), &now.as_millis()],
            )?;
            Ok(())
        })
    }

    fn roster(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError> {
        let (people, members) = self.with_client(|client| {
            let tenant = tenant.to_string();
            let people = client.query(&ROSTER_QUERY.replace("?1", "$1"), &[&tenant])?;
            let members = client.query(&MEMBERS_QUERY.replace("?1", "$1"), &[&tenant])?;
            Ok((people, members))
        })?;
        parse_roster(
            people
                .iter()
                .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3))),
            members.iter().map(|row| (row.get(0), row.get(1))),
        )
    }

    fn set_active(
        &self,
        user: UserId,
        tenant: TenantId,
        active: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let user = user.to_string();
            let works_here = transaction
                .query_opt(
                    "SELECT 1 FROM user_tenants WHERE user_id = $1 AND tenant = $2",
                    &[&user, &tenant.to_string()],
                )?
                .is_some();
            if !works_here {
                return Ok(false);
            }
            transaction.execute(
                "UPDATE users SET active = $2 WHERE id = $1",
                &[&user, &active],
            )?;
            transaction.execute(
                "UPDATE staff_accounts SET active = $2 WHERE user_id = $1",
                &[&user, &active],
            )?;
            if !active {
                transaction.execute(
                    "UPDATE devices SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                    &[&user, &now.as_millis()],
                )?;
                transaction.execute("DELETE FROM staff_sessions WHERE user_id = $1", &[&user])?;
            }
            transaction.commit()?;
            Ok(true)
        })
    }

    fn set_team(
        &self,
        user: UserId,
        tenant: TenantId,
        team: Option<TeamId>,
    ) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let (user, tenant) = (user.to_string(), tenant.to_string());
            let known = transaction
                .query_opt(
                    "SELECT 1 FROM user_tenants WHERE user_id = $1 AND tenant = $2",
                    &[&user, &tenant],
                )?
                .is_some();
            let team_known = match team {
                Some(team) => transaction
                    .query_opt(
                        "SELECT 1 FROM teams WHERE id = $1 AND tenant = $2",
                        &[&team.to_string(), &tenant],
                    )?
                    .is_some(),
                None => true,
            };
            if !known || !team_known {
                return Ok(false);
            }
            transaction.execute(
                "DELETE FROM team_members WHERE user_id = $1
                 AND team IN (SELECT id FROM teams WHERE tenant = $2)",
                &[&user, &tenant],
            )?;
            if let Some(team) = team {
                transaction.execute(
                    "INSERT INTO team_members (team, user_id) VALUES ($1, $2)",
                    &[&team.to_string(), &user],
                )?;
            }
            transaction.execute(
                "UPDATE tenants SET scope_version = scope_version + 1 WHERE id = $1",
                &[&tenant],
            )?;
            transaction.commit()?;
            Ok(true)
        })
    }

    fn job_assignees(&self, tenant: TenantId) -> Result<Vec<JobAssignee>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(&ASSIGNEES_QUERY.replace("?1", "$1"), &[&tenant.to_string()])?)
        })?;
        parse_assignees(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))))
    }
}
