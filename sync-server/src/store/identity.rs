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
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
pub use crate::sync::enrol::{Enrolled, EnrolmentRefused};
use crate::{args, sql};

/// A secret (code or token) as stored: its SHA-256.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

impl Store {
    /// Adds a user working for `tenants`.
    pub fn create_user(
        &self,
        id: UserId,
        name: &str,
        role: Role,
        tenants: &[TenantId],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                sql!("INSERT INTO users (id, name, role) VALUES (?1, ?2, ?3)"),
                args![id.to_string(), name, role.as_str()],
            )?;
            for tenant in tenants {
                tx.execute(
                    sql!("INSERT INTO user_tenants (user_id, tenant) VALUES (?1, ?2)"),
                    args![id.to_string(), tenant.to_string()],
                )?;
            }
            Ok(())
        })
    }

    /// Adds a team with its members. Changes who sees the team's work, so
    /// the tenant's scope version moves on.
    pub fn create_team(
        &self,
        id: TeamId,
        tenant: TenantId,
        name: &str,
        members: &[UserId],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                sql!("INSERT INTO teams (id, tenant, name) VALUES (?1, ?2, ?3)"),
                args![id.to_string(), tenant.to_string(), name],
            )?;
            for member in members {
                tx.execute(
                    sql!("INSERT INTO team_members (team, user_id) VALUES (?1, ?2)"),
                    args![id.to_string(), member.to_string()],
                )?;
            }
            tx.execute(
                sql!("UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1"),
                args![tenant.to_string()],
            )?;
            Ok(())
        })
    }

    /// Issues a one-time code for `user`, valid until `expires_at`. With
    /// `device`, redeeming it re-enrols that device.
    pub fn create_enrolment(
        &self,
        code: &str,
        user: UserId,
        device: Option<DeviceId>,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                sql!(
                    "INSERT INTO enrolments (code_hash, user_id, device, expires_at)
                     VALUES (?1, ?2, ?3, ?4)"
                ),
                args![
                    secret_hash(code),
                    user.to_string(),
                    device.map(|d| d.to_string()),
                    expires_at.as_millis(),
                ],
            )?;
            Ok(())
        })
    }

    /// Redeems a code: enrols a new device (with `new_device`, `new_actor`)
    /// or re-enrols the one the code names, under `token`.
    pub fn redeem_enrolment(
        &self,
        code: &str,
        token: &str,
        new_device: DeviceId,
        new_actor: &ActorId,
        now: Timestamp,
    ) -> Result<Result<Enrolled, EnrolmentRefused>, StoreError> {
        self.write(|tx| {
            // Locked: two phones racing with one code cannot both win.
            let Some(row) = tx.query_opt(
                sql!(
                    "SELECT user_id, device, expires_at, used_at FROM enrolments
                     WHERE code_hash = ?1 {for_update}"
                ),
                args![secret_hash(code)],
            )?
            else {
                return Ok(Err(EnrolmentRefused::Unknown));
            };
            if row.get::<Option<i64>>(3)?.is_some() {
                return Ok(Err(EnrolmentRefused::Used));
            }
            if now.as_millis() > row.get::<i64>(2)? {
                return Ok(Err(EnrolmentRefused::Expired));
            }
            let user: UserId = row.parse(0, "user id")?;
            let enrolled = match row.parse_opt::<DeviceId>(1, "device id")? {
                Some(device) => {
                    let actor: Vec<u8> = tx
                        .query_one(
                            sql!(
                                "UPDATE devices SET token_hash = ?2, revoked_at = NULL
                                 WHERE id = ?1 RETURNING actor"
                            ),
                            args![device.to_string(), secret_hash(token)],
                        )?
                        .get(0)?;
                    Enrolled {
                        device,
                        actor: ActorId::from(actor),
                        user,
                        rebound: true,
                    }
                }
                None => {
                    tx.execute(
                        sql!(
                            "INSERT INTO devices (id, user_id, actor, token_hash, enrolled_at)
                             VALUES (?1, ?2, ?3, ?4, ?5)"
                        ),
                        args![
                            new_device.to_string(),
                            user.to_string(),
                            new_actor.to_bytes(),
                            secret_hash(token),
                            now.as_millis(),
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
            tx.execute(
                sql!("UPDATE enrolments SET used_at = ?2 WHERE code_hash = ?1"),
                args![secret_hash(code), now.as_millis()],
            )?;
            Ok(Ok(enrolled))
        })
    }

    /// The device a token belongs to, if the token is valid and not revoked.
    pub fn device_by_token(&self, token: &str) -> Result<Option<DeviceIdentity>, StoreError> {
        self.read(|tx| {
            let Some(row) = tx.query_opt(
                sql!(
                    "SELECT d.id, d.user_id, d.actor, u.role FROM devices d
                     JOIN users u ON u.id = d.user_id
                     WHERE d.token_hash = ?1 AND d.revoked_at IS NULL AND u.active"
                ),
                args![secret_hash(token)],
            )?
            else {
                return Ok(None);
            };
            let user: String = row.get(1)?;
            let teams = tx
                .query(
                    sql!("SELECT team FROM team_members WHERE user_id = ?1"),
                    args![user.as_str()],
                )?
                .iter()
                .map(|team| team.parse(0, "team id"))
                .collect::<Result<BTreeSet<_>, _>>()?;
            let tenants = tx
                .query(
                    sql!("SELECT tenant FROM user_tenants WHERE user_id = ?1"),
                    args![user.as_str()],
                )?
                .iter()
                .map(|tenant| tenant.parse(0, "tenant id"))
                .collect::<Result<BTreeSet<_>, _>>()?;
            Ok(Some(DeviceIdentity {
                device: row.parse(0, "device id")?,
                user: row.parse(1, "user id")?,
                role: row.parse(3, "role")?,
                teams,
                tenants,
                actor: ActorId::from(row.get::<Vec<u8>>(2)?),
            }))
        })
    }

    /// Revokes a device: its token is refused from now on. Returns whether
    /// there was such a device.
    pub fn revoke_device(&self, device: DeviceId, now: Timestamp) -> Result<bool, StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                sql!("UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"),
                args![device.to_string(), now.as_millis()],
            )?;
            Ok(changed > 0)
        })
    }

    /// A user's name, if there is such a user.
    pub fn user_name(&self, user: UserId) -> Result<Option<String>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                sql!("SELECT name FROM users WHERE id = ?1"),
                args![user.to_string()],
            )?
            .map(|row| row.get(0))
            .transpose()
        })
    }

    /// The user whose device signs its changes with `actor`, if the server
    /// enrolled such a device (revoked ones too: their past work stays
    /// theirs).
    pub fn user_of_actor(&self, actor: &ActorId) -> Result<Option<UserId>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                sql!("SELECT user_id FROM devices WHERE actor = ?1"),
                args![actor.to_bytes()],
            )?
            .map(|row| row.parse(0, "user id"))
            .transpose()
        })
    }

    /// Whether `device` belongs to a member of `team`.
    pub fn device_in_team(&self, device: DeviceId, team: TeamId) -> Result<bool, StoreError> {
        self.read(|tx| {
            Ok(tx
                .query_opt(
                    sql!(
                        "SELECT 1 FROM devices d JOIN team_members m ON m.user_id = d.user_id
                         WHERE d.id = ?1 AND m.team = ?2"
                    ),
                    args![device.to_string(), team.to_string()],
                )?
                .is_some())
        })
    }

    /// The people working for a council, by name, with their roles.
    pub fn people(&self, tenant: TenantId) -> Result<Vec<(UserId, String, Role)>, StoreError> {
        self.read(|tx| {
            tx.query(
                sql!(
                    "SELECT u.id, u.name, u.role FROM users u
                     JOIN user_tenants t ON t.user_id = u.id
                     WHERE t.tenant = ?1 AND u.active ORDER BY u.name, u.id"
                ),
                args![tenant.to_string()],
            )?
            .iter()
            .map(|row| Ok((row.parse(0, "user id")?, row.get(1)?, row.parse(2, "role")?)))
            .collect()
        })
    }

    /// A council's teams, by name.
    pub fn teams(&self, tenant: TenantId) -> Result<Vec<(TeamId, String)>, StoreError> {
        self.read(|tx| {
            tx.query(
                sql!("SELECT id, name FROM teams WHERE tenant = ?1 ORDER BY name, id"),
                args![tenant.to_string()],
            )?
            .iter()
            .map(|row| Ok((row.parse(0, "team id")?, row.get(1)?)))
            .collect()
        })
    }
}
