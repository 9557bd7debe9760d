//! Staff accounts, their roles per council, and their signed-in sessions.
//! Passwords arrive here already hashed (Argon2id, in `crate::office::staff`);
//! session tokens only as their SHA-256.

use doorstep_shared::ids::{TenantId, UserId};
use doorstep_shared::time::Timestamp;

use super::db::{FromRow, Row};
use super::{Store, StoreError};
pub use crate::office::staff::{StaffAccount, StaffRole, StaffSession};
use crate::{args, sql};

impl FromRow for StaffSession {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        Ok(StaffSession {
            user: row.get(0)?,
            name: row.get(1)?,
            tenant: row.get(2)?,
            role: row.get(3)?,
            csrf: row.get(4)?,
        })
    }
}

impl FromRow for StaffAccount {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        Ok(StaffAccount {
            user: row.get(0)?,
            name: row.get(1)?,
            password_hash: row.get(2)?,
            active: row.get(3)?,
        })
    }
}

impl Store {
    /// Adds a user's account, or replaces its email and password.
    pub fn put_staff_account(
        &self,
        user: UserId,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            sql!(
                "INSERT INTO staff_accounts (user_id, email, password_hash)
                 VALUES (?1, lower(?2), ?3)
                 ON CONFLICT (user_id) DO UPDATE SET email = excluded.email,
                     password_hash = excluded.password_hash"
            ),
            args![user, email.trim(), password_hash],
        )
        .map(drop)
    }

    /// Gives a user a role for a council.
    pub fn grant_staff_role(
        &self,
        user: UserId,
        tenant: TenantId,
        role: StaffRole,
    ) -> Result<(), StoreError> {
        self.execute(
            sql!(
                "INSERT INTO staff_roles (user_id, tenant, role) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id, tenant) DO UPDATE SET role = excluded.role"
            ),
            args![user, tenant, role],
        )
        .map(drop)
    }

    /// The account signed in with `email` (compared without case).
    pub fn staff_account(&self, email: &str) -> Result<Option<StaffAccount>, StoreError> {
        self.opt(
            sql!(
                "SELECT a.user_id, u.name, a.password_hash, a.active
                 FROM staff_accounts a JOIN users u ON u.id = a.user_id
                 WHERE a.email = lower(?1)"
            ),
            args![email.trim()],
        )
    }

    /// The councils a user may work for, with their role in each.
    pub fn staff_roles(&self, user: UserId) -> Result<Vec<(TenantId, StaffRole)>, StoreError> {
        self.all(
            sql!(
                "SELECT r.tenant, r.role FROM staff_roles r WHERE r.user_id = ?1 AND NOT EXISTS (
                     SELECT 1 FROM user_tenants m
                     WHERE m.user_id = r.user_id AND m.tenant = r.tenant AND NOT m.active)
                 ORDER BY r.tenant"
            ),
            args![user],
        )
    }

    /// Records a new session.
    pub fn create_staff_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        tenant: TenantId,
        csrf: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            sql!(
                "INSERT INTO staff_sessions
                     (token_hash, user_id, tenant, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ),
            args![token_hash, user, tenant, csrf, now, expires_at],
        )
        .map(drop)
    }

    /// The live session a token opens at `now`: unexpired, its account
    /// active, its role still held.
    pub fn staff_session(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<StaffSession>, StoreError> {
        self.opt(
            sql!(
                "SELECT s.user_id, u.name, s.tenant, r.role, s.csrf
                 FROM staff_sessions s
                 JOIN users u ON u.id = s.user_id
                 JOIN staff_accounts a ON a.user_id = s.user_id
                 JOIN staff_roles r ON r.user_id = s.user_id AND r.tenant = s.tenant
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.active
                   AND NOT EXISTS (SELECT 1 FROM user_tenants m
                       WHERE m.user_id = s.user_id AND m.tenant = s.tenant AND NOT m.active)"
            ),
            args![token_hash, now],
        )
    }

    /// Ends a session.
    pub fn end_staff_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.execute(
            sql!("DELETE FROM staff_sessions WHERE token_hash = ?1"),
            args![token_hash],
        )
        .map(drop)
    }

    /// Moves a session to another council the user has a role in; false if
    /// they have none there.
    pub fn switch_staff_council(
        &self,
        token_hash: &[u8],
        tenant: TenantId,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            sql!(
                "UPDATE staff_sessions SET tenant = ?2
                 WHERE token_hash = ?1 AND EXISTS (SELECT 1 FROM staff_roles r
                     WHERE r.user_id = staff_sessions.user_id AND r.tenant = ?2)
                   AND NOT EXISTS (SELECT 1 FROM user_tenants m
                     WHERE m.user_id = staff_sessions.user_id AND m.tenant = ?2 AND NOT m.active)"
            ),
            args![token_hash, tenant],
        )?;
        Ok(changed > 0)
    }
}
