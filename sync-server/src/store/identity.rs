//! Users, teams and devices, and enrolment: a one-time code, issued by a
//! dispatcher for a user, becomes a device token. Codes and tokens are
//! stored only as SHA-256 hashes. A device's Automerge actor id is fixed at
//! enrolment; re-enrolling a revoked device (a dispatcher's decision) keeps
//! it, so the device's unsynced edits are still accepted.

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
                args![id, name, role],
            )?;
            for tenant in tenants {
                tx.execute(
                    sql!("INSERT INTO user_tenants (user_id, tenant) VALUES (?1, ?2)"),
                    args![id, tenant],
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
                args![id, tenant, name],
            )?;
            for member in members {
                tx.execute(
                    sql!("INSERT INTO team_members (team, user_id) VALUES (?1, ?2)"),
                    args![id, member],
                )?;
            }
            tx.execute(
                sql!("UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1"),
                args![tenant],
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
        self.execute(
            sql!(
                "INSERT INTO enrolments (code_hash, user_id, device, expires_at)
                 VALUES (?1, ?2, ?3, ?4)"
            ),
            args![secret_hash(code), user, device, expires_at],
        )
        .map(drop)
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
            let Some((user, device, expires_at, used_at)) =
                tx.opt::<(UserId, Option<DeviceId>, Timestamp, Option<Timestamp>)>(
                    sql!(
                        "SELECT user_id, device, expires_at, used_at FROM enrolments
                         WHERE code_hash = ?1 {for_update}"
                    ),
                    args![secret_hash(code)],
                )?
            else {
                return Ok(Err(EnrolmentRefused::Unknown));
            };
            if used_at.is_some() {
                return Ok(Err(EnrolmentRefused::Used));
            }
            if now > expires_at {
                return Ok(Err(EnrolmentRefused::Expired));
            }
            let enrolled = match device {
                Some(device) => {
                    let actor: Vec<u8> = tx.one(
                        sql!(
                            "UPDATE devices SET token_hash = ?2, revoked_at = NULL
                             WHERE id = ?1 RETURNING actor"
                        ),
                        args![device, secret_hash(token)],
                    )?;
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
                            new_device,
                            user,
                            new_actor.to_bytes(),
                            secret_hash(token),
                            now
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
                args![secret_hash(code), now],
            )?;
            Ok(Ok(enrolled))
        })
    }

    /// The device a token belongs to, if the token is valid and not revoked.
    pub fn device_by_token(&self, token: &str) -> Result<Option<DeviceIdentity>, StoreError> {
        self.read(|tx| {
            let Some((device, user, actor, role)) = tx.opt::<(DeviceId, UserId, Vec<u8>, Role)>(
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
            let teams: Vec<TeamId> = tx.all(
                sql!("SELECT team FROM team_members WHERE user_id = ?1"),
                args![user],
            )?;
            // Only the councils that have not deactivated them; a device of
            // someone every council has deactivated is refused.
            let tenants: Vec<TenantId> = tx.all(
                sql!("SELECT tenant FROM user_tenants WHERE user_id = ?1 AND active"),
                args![user],
            )?;
            if tenants.is_empty() {
                return Ok(None);
            }
            Ok(Some(DeviceIdentity {
                device,
                user,
                role,
                teams: teams.into_iter().collect(),
                tenants: tenants.into_iter().collect(),
                actor: ActorId::from(actor),
            }))
        })
    }

    /// Revokes a device: its token is refused from now on. Returns whether
    /// there was such a device.
    pub fn revoke_device(&self, device: DeviceId, now: Timestamp) -> Result<bool, StoreError> {
        let changed = self.execute(
            sql!("UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"),
            args![device, now],
        )?;
        Ok(changed > 0)
    }

    /// The role of an active user, as the server's records hold it.
    pub fn active_role(&self, user: UserId) -> Result<Option<Role>, StoreError> {
        self.opt(
            sql!("SELECT role FROM users WHERE id = ?1 AND active"),
            args![user],
        )
    }

    /// A user's name, if there is such a user.
    pub fn user_name(&self, user: UserId) -> Result<Option<String>, StoreError> {
        self.opt(sql!("SELECT name FROM users WHERE id = ?1"), args![user])
    }

    /// The user whose device signs its changes with `actor`, if the server
    /// enrolled such a device (revoked ones too: their past work stays
    /// theirs).
    pub fn user_of_actor(&self, actor: &ActorId) -> Result<Option<UserId>, StoreError> {
        self.opt(
            sql!("SELECT user_id FROM devices WHERE actor = ?1"),
            args![actor.to_bytes()],
        )
    }

    /// Whether `device` belongs to a member of `team`.
    pub fn device_in_team(&self, device: DeviceId, team: TeamId) -> Result<bool, StoreError> {
        let found: Option<i64> = self.opt(
            sql!(
                "SELECT 1 FROM devices d JOIN team_members m ON m.user_id = d.user_id
                 WHERE d.id = ?1 AND m.team = ?2"
            ),
            args![device, team],
        )?;
        Ok(found.is_some())
    }

    /// The people working for a council, by name, with their roles.
    pub fn people(&self, tenant: TenantId) -> Result<Vec<(UserId, String, Role)>, StoreError> {
        self.all(
            sql!(
                "SELECT u.id, u.name, u.role FROM users u
                 JOIN user_tenants t ON t.user_id = u.id
                 WHERE t.tenant = ?1 AND t.active ORDER BY u.name, u.id"
            ),
            args![tenant],
        )
    }

    /// A council's teams, by name.
    pub fn teams(&self, tenant: TenantId) -> Result<Vec<(TeamId, String)>, StoreError> {
        self.all(
            sql!("SELECT id, name FROM teams WHERE tenant = ?1 ORDER BY name, id"),
            args![tenant],
        )
    }
}
