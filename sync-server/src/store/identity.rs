//! Users, teams and devices, and enrolment: a one-time code, issued by a
//! dispatcher for a user, becomes a device token. Codes and tokens are
//! stored only as SHA-256 hashes. A device's Automerge actor id is fixed at
//! enrolment; re-enrolling a revoked device (a dispatcher's decision) keeps
//! it, so the device's unsynced edits are still accepted.

use std::collections::BTreeSet;

use automerge::ActorId;
use doorstep_shared::ids::{DeviceId, TeamId, TenantId, UserId};
use doorstep_shared::sync::store::DeviceIdentity;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{SqliteStore, StoreError, parse};

/// A secret (code or token) as stored: its SHA-256.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// What a redeemed enrolment code gives the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The device's id.
    pub device: DeviceId,
    /// The Automerge actor id the device must sign its changes with.
    pub actor: ActorId,
    /// The user it is enrolled for.
    pub user: UserId,
    /// Whether an existing device was re-enrolled (keeping its actor id).
    pub rebound: bool,
}

/// Why an enrolment code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentRefused {
    /// No such code.
    #[error("that enrolment code is not valid; ask your dispatcher for a new one")]
    Unknown,
    /// Too old.
    #[error("that enrolment code has expired; ask your dispatcher for a new one")]
    Expired,
    /// Used before.
    #[error("that enrolment code has already been used; ask your dispatcher for a new one")]
    Used,
}

/// Users, teams, devices and enrolment: the same on every backend.
pub trait Identity {
    /// Adds a user working for `tenants`.
    fn create_user(
        &self,
        id: UserId,
        name: &str,
        role: Role,
        tenants: &[TenantId],
    ) -> Result<(), StoreError>;

    /// Adds a team with its members. Changes who sees the team's work, so
    /// the tenant's scope version moves on.
    fn create_team(
        &self,
        id: TeamId,
        tenant: TenantId,
        name: &str,
        members: &[UserId],
    ) -> Result<(), StoreError>;

    /// Issues a one-time code for `user`, valid until `expires_at`. With
    /// `device`, redeeming it re-enrols that device.
    fn create_enrolment(
        &self,
        code: &str,
        user: UserId,
        device: Option<DeviceId>,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Redeems a code: enrols a new device (with `new_device`, `new_actor`)
    /// or re-enrols the one the code names, under `token`.
    fn redeem_enrolment(
        &self,
        code: &str,
        token: &str,
        new_device: DeviceId,
        new_actor: &ActorId,
        now: Timestamp,
    ) -> Result<Result<Enrolled, EnrolmentRefused>, StoreError>;

    /// The device a token belongs to, if the token is valid and not revoked.
    fn device_by_token(&self, token: &str) -> Result<Option<DeviceIdentity>, StoreError>;

    /// Revokes a device: its token is refused from now on. Returns whether
    /// there was such a device.
    fn revoke_device(&self, device: DeviceId, now: Timestamp) -> Result<bool, StoreError>;

    /// A user's name, if there is such a user.
    fn user_name(&self, user: UserId) -> Result<Option<String>, StoreError>;

    /// The user whose device signs its changes with `actor`, if the server
    /// enrolled such a device (revoked ones too: their past work stays
    /// theirs).
    fn user_of_actor(&self, actor: &ActorId) -> Result<Option<UserId>, StoreError>;

    /// Whether `device` belongs to a member of `team`.
    fn device_in_team(&self, device: DeviceId, team: TeamId) -> Result<bool, StoreError>;

    /// The people working for a council, by name, with their roles.
    fn people(&self, tenant: TenantId) -> Result<Vec<(UserId, String, Role)>, StoreError>;

    /// A council's teams, by name.
    fn teams(&self, tenant: TenantId) -> Result<Vec<(TeamId, String)>, StoreError>;
}

/// People rows as both databases return them: id, name, role.
pub(super) fn parse_people(
    rows: impl IntoIterator<Item = (String, String, String)>,
) -> Result<Vec<(UserId, String, Role)>, StoreError> {
    rows.into_iter()
        .map(|(id, name, role)| Ok((parse("user id", id)?, name, parse("role", role)?)))
        .collect()
}

/// Team rows as both databases return them: id, name.
pub(super) fn parse_teams(
    rows: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(TeamId, String)>, StoreError> {
    rows.into_iter()
        .map(|(id, name)| Ok((parse("team id", id)?, name)))
        .collect()
}

/// Whether a device is a team member's, the same on both databases but
/// for placeholders.
pub(super) const DEVICE_IN_TEAM_QUERY: &str = "SELECT 1 FROM devices d
     JOIN team_members m ON m.user_id = d.user_id WHERE d.id = ?1 AND m.team = ?2";

/// The people query, the same on both databases but for placeholders.
pub(super) const PEOPLE_QUERY: &str = "SELECT u.id, u.name, u.role FROM users u
     JOIN user_tenants t ON t.user_id = u.id WHERE t.tenant = ?1 AND u.active ORDER BY u.name, u.id";
/// The teams query, likewise.
pub(super) const TEAMS_QUERY: &str =
    "SELECT id, name FROM teams WHERE tenant = ?1 ORDER BY name, id";

impl Identity for SqliteStore {
    fn create_user(
        &self,
        id: UserId,
        name: &str,
        role: Role,
        tenants: &[TenantId],
    ) -> Result<(), StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        transaction.execute(
            "INSERT INTO users (id, name, role) VALUES (?1, ?2, ?3)",
            params![id.to_string(), name, role.as_str()],
        )?;
        for tenant in tenants {
            transaction.execute(
                "INSERT INTO user_tenants (user_id, tenant) VALUES (?1, ?2)",
                params![id.to_string(), tenant.to_string()],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn create_team(
        &self,
        id: TeamId,
        tenant: TenantId,
        name: &str,
        members: &[UserId],
    ) -> Result<(), StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        transaction.execute(
            "INSERT INTO teams (id, tenant, name) VALUES (?1, ?2, ?3)",
            params![id.to_string(), tenant.to_string(), name],
        )?;
        for member in members {
            transaction.execute(
                "INSERT INTO team_members (team, user_id) VALUES (?1, ?2)",
                params![id.to_string(), member.to_string()],
            )?;
        }
        transaction.execute(
            "UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1",
            params![tenant.to_string()],
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn create_enrolment(
        &self,
        code: &str,
        user: UserId,
        device: Option<DeviceId>,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.connection()?.execute(
            "INSERT INTO enrolments (code_hash, user_id, device, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                secret_hash(code),
                user.to_string(),
                device.map(|d| d.to_string()),
                expires_at.as_millis()
            ],
        )?;
        Ok(())
    }

    fn redeem_enrolment(
        &self,
        code: &str,
        token: &str,
        new_device: DeviceId,
        new_actor: &ActorId,
        now: Timestamp,
    ) -> Result<Result<Enrolled, EnrolmentRefused>, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        let row = transaction
            .query_row(
                "SELECT user_id, device, expires_at, used_at FROM enrolments WHERE code_hash = ?1",
                params![secret_hash(code)],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((user, device, expires_at, used_at)) = row else {
            return Ok(Err(EnrolmentRefused::Unknown));
        };
        if used_at.is_some() {
            return Ok(Err(EnrolmentRefused::Used));
        }
        if now.as_millis() > expires_at {
            return Ok(Err(EnrolmentRefused::Expired));
        }
        let user: UserId = parse("user id", user)?;
        let enrolled = match device {
            Some(device) => {
                let actor: Vec<u8> = transaction.query_row(
                    "UPDATE devices SET token_hash = ?2, revoked_at = NULL
                     WHERE id = ?1 RETURNING actor",
                    params![device, secret_hash(token)],
                    |row| row.get(0),
                )?;
                Enrolled {
                    device: parse("device id", device)?,
                    actor: ActorId::from(actor),
                    user,
                    rebound: true,
                }
            }
            None => {
                transaction.execute(
                    "INSERT INTO devices (id, user_id, actor, token_hash, enrolled_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        new_device.to_string(),
                        user.to_string(),
                        new_actor.to_bytes(),
                        secret_hash(token),
                        now.as_millis()
                    ],
                )?;
                Enrolled {
                    device: new_device,
                    actor: new_actor.clone(),
                    user,
                    rebound: false,
                }
            }
        };
        transaction.execute(
            "UPDATE enrolments SET used_at = ?2 WHERE code_hash = ?1",
            params![secret_hash(code), now.as_millis()],
        )?;
        transaction.commit()?;
        Ok(Ok(enrolled))
    }

    fn device_by_token(&self, token: &str) -> Result<Option<DeviceIdentity>, StoreError> {
        let connection = self.connection()?;
        let row = connection
            .query_row(
                "SELECT d.id, d.user_id, d.actor, u.role FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.token_hash = ?1 AND d.revoked_at IS NULL AND u.active",
                params![secret_hash(token)],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((device, user, actor, role)) = row else {
            return Ok(None);
        };
        let strings = |sql: &str| -> Result<Vec<String>, StoreError> {
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement.query_map(params![user], |row| row.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let teams = strings("SELECT team FROM team_members WHERE user_id = ?1")?
            .into_iter()
            .map(|t| parse("team id", t))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let tenants = strings("SELECT tenant FROM user_tenants WHERE user_id = ?1")?
            .into_iter()
            .map(|t| parse("tenant id", t))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Some(DeviceIdentity {
            device: parse("device id", device)?,
            user: parse("user id", user.clone())?,
            role: parse("role", role)?,
            teams,
            tenants,
            actor: ActorId::from(actor),
        }))
    }

    fn revoke_device(&self, device: DeviceId, now: Timestamp) -> Result<bool, StoreError> {
        let changed = self.connection()?.execute(
            "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![device.to_string(), now.as_millis()],
        )?;
        Ok(changed > 0)
    }

    fn user_name(&self, user: UserId) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection()?
            .query_row(
                "SELECT name FROM users WHERE id = ?1",
                params![user.to_string()],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn user_of_actor(&self, actor: &ActorId) -> Result<Option<UserId>, StoreError> {
        let user: Option<String> = self
            .connection()?
            .query_row(
                "SELECT user_id FROM devices WHERE actor = ?1",
                params![actor.to_bytes()],
                |row| row.get(0),
            )
            .optional()?;
        user.map(|user| parse("user id", user)).transpose()
    }

    fn device_in_team(&self, device: DeviceId, team: TeamId) -> Result<bool, StoreError> {
        Ok(self
            .connection()?
            .query_row(
                DEVICE_IN_TEAM_QUERY,
                params![device.to_string(), team.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn people(&self, tenant: TenantId) -> Result<Vec<(UserId, String, Role)>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare(PEOPLE_QUERY)?;
        let rows = statement
            .query_map(params![tenant.to_string()], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<Vec<(String, String, String)>, _>>()?;
        parse_people(rows)
    }

    fn teams(&self, tenant: TenantId) -> Result<Vec<(TeamId, String)>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare(TEAMS_QUERY)?;
        let rows = statement
            .query_map(params![tenant.to_string()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        parse_teams(rows)
    }
}
