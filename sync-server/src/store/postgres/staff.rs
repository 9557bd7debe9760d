//! Staff accounts and sessions on PostgreSQL: the same rows as on SQLite.

use doorstep_shared::ids::{TenantId, UserId};
use doorstep_shared::time::Timestamp;

use super::super::StoreError;
use super::super::parse;
use super::super::staff::{
    FAILED_SIGN_IN, SESSION_QUERY, SWITCH_COUNCIL, StaffAccount, StaffRecords, StaffRole,
    StaffSession, parse_roles, parse_session,
};
use super::PgStore;

impl StaffRecords for PgStore {
    fn put_staff_account(
        &self,
        user: UserId,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "INSERT INTO staff_accounts (user_id, email, password_hash) VALUES ($1, lower($2), $3)
                 ON CONFLICT (user_id) DO UPDATE SET email = excluded.email,
                     password_hash = excluded.password_hash",
                &[&user.to_string(), &email.trim(), &password_hash],
            )?;
            Ok(())
        })
    }

    fn grant_staff_role(
        &self,
        user: UserId,
        tenant: TenantId,
        role: StaffRole,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "INSERT INTO staff_roles (user_id, tenant, role) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, tenant) DO UPDATE SET role = excluded.role",
                &[&user.to_string(), &tenant.to_string(), &role.as_str()],
            )?;
            Ok(())
        })
    }

    fn staff_account(&self, email: &str) -> Result<Option<StaffAccount>, StoreError> {
        let row = self.with_client(|client| {
            Ok(client.query_opt(
                "SELECT a.user_id, u.name, a.password_hash, a.active, a.locked_until
                 FROM staff_accounts a JOIN users u ON u.id = a.user_id
                 WHERE a.email = lower($1)",
                &[&email.trim()],
            )?)
        })?;
        row.map(|row| {
            Ok(StaffAccount {
                user: parse("user id", row.get::<_, String>(0))?,
                name: row.get(1),
                password_hash: row.get(2),
                active: row.get(3),
                locked_until: row.get::<_, Option<i64>>(4).map(Timestamp::from_millis),
            })
        })
        .transpose()
    }

    fn staff_roles(&self, user: UserId) -> Result<Vec<(TenantId, StaffRole)>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT tenant, role FROM staff_roles WHERE user_id = $1 ORDER BY tenant",
                &[&user.to_string()],
            )?)
        })?;
        parse_roles(rows.iter().map(|row| (row.get(0), row.get(1))))
    }

    fn create_staff_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        tenant: TenantId,
        csrf: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "INSERT INTO staff_sessions (token_hash, user_id, tenant, csrf, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &token_hash,
                    &user.to_string(),
                    &tenant.to_string(),
                    &csrf,
                    &now.as_millis(),
                    &expires_at.as_millis(),
                ],
            )?;
            Ok(())
        })
    }

    fn staff_session(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<StaffSession>, StoreError> {
        let query = SESSION_QUERY.replace("?1", "$1").replace("?2", "$2");
        let row = self.with_client(|client| {
            Ok(client.query_opt(&query, &[&token_hash, &now.as_millis()])?)
        })?;
        row.map(|row| parse_session((row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))))
            .transpose()
    }

    fn end_staff_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "DELETE FROM staff_sessions WHERE token_hash = $1",
                &[&token_hash],
            )?;
            Ok(())
        })
    }

    fn record_failed_sign_in(
        &self,
        user: UserId,
        limit: u32,
        lock_until: Timestamp,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                &FAILED_SIGN_IN
                    .replace("?1", "$1")
                    .replace("?2", "$2")
                    .replace("?3", "$3"),
                &[
                    &user.to_string(),
                    &i32::try_from(limit).unwrap_or(i32::MAX),
                    &lock_until.as_millis(),
                ],
            )?;
            Ok(())
        })
    }

    fn record_sign_in(&self, user: UserId) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "UPDATE staff_accounts SET failed_sign_ins = 0, locked_until = NULL WHERE user_id = $1",
                &[&user.to_string()],
            )?;
            Ok(())
        })
    }

    fn switch_staff_council(
        &self,
        token_hash: &[u8],
        tenant: TenantId,
    ) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let changed = client.execute(
                &SWITCH_COUNCIL.replace("?1", "$1").replace("?2", "$2"),
                &[&token_hash, &tenant.to_string()],
            )?;
            Ok(changed > 0)
        })
    }
}
