//! Staff accounts, their roles per council, and their signed-in sessions.
//! Passwords arrive here already hashed (Argon2id, in `crate::staff`);
//! session tokens only as their SHA-256.

use doorstep_shared::ids::{TenantId, UserId};
use doorstep_shared::time::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, StoreError, parse};

/// What a member of staff may do for a council.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StaffRole {
    /// Books, assigns and follows work.
    Dispatcher,
    /// A dispatcher who also manages people, teams and devices.
    Admin,
}

impl StaffRole {
    /// Its name in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dispatcher => "dispatcher",
            Self::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "dispatcher" => Ok(Self::Dispatcher),
            "admin" => Ok(Self::Admin),
            other => Err(StoreError::Corrupt {
                what: "staff role",
                value: other.to_owned(),
            }),
        }
    }
}

/// A staff account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    /// The user.
    pub user: UserId,
    /// The user's name.
    pub name: String,
    /// The password's Argon2id hash.
    pub password_hash: String,
    /// Whether they may sign in.
    pub active: bool,
    /// Until when sign-in is refused after too many wrong passwords.
    pub locked_until: Option<Timestamp>,
}

/// A signed-in session, as the server's records hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// Who.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// The council they work in this session.
    pub tenant: TenantId,
    /// What they may do there.
    pub role: StaffRole,
    /// The token every form must carry back.
    pub csrf: String,
}

/// Staff accounts and sessions.
pub trait StaffRecords {
    /// Adds a user's account, or replaces its email and password.
    fn put_staff_account(
        &self,
        user: UserId,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError>;

    /// Gives a user a role for a council.
    fn grant_staff_role(
        &self,
        user: UserId,
        tenant: TenantId,
        role: StaffRole,
    ) -> Result<(), StoreError>;

    /// The account signed in with `email` (compared without case).
    fn staff_account(&self, email: &str) -> Result<Option<StaffAccount>, StoreError>;

    /// The councils a user may work for, with their role in each.
    fn staff_roles(&self, user: UserId) -> Result<Vec<(TenantId, StaffRole)>, StoreError>;

    /// Records a new session.
    fn create_staff_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        tenant: TenantId,
        csrf: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// The live session a token opens at `now`: unexpired, its account
    /// active, its role still held.
    fn staff_session(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<StaffSession>, StoreError>;

    /// Ends a session.
    fn end_staff_session(&self, token_hash: &[u8]) -> Result<(), StoreError>;

    /// Counts a wrong password; the `limit`th in a row locks sign-in until
    /// `lock_until` (and starts the count again).
    fn record_failed_sign_in(
        &self,
        user: UserId,
        limit: u32,
        lock_until: Timestamp,
    ) -> Result<(), StoreError>;

    /// A right password: the count of wrong ones starts again.
    fn record_sign_in(&self, user: UserId) -> Result<(), StoreError>;

    /// Moves a session to another council the user has a role in; false if
    /// they have none there.
    fn switch_staff_council(&self, token_hash: &[u8], tenant: TenantId)
    -> Result<bool, StoreError>;
}

/// Counting a wrong password, the same on both databases but for
/// placeholders: `?1` user, `?2` limit, `?3` lock-until.
pub(super) const FAILED_SIGN_IN: &str = "UPDATE staff_accounts SET
        locked_until = CASE WHEN failed_sign_ins + 1 >= ?2 THEN ?3 ELSE locked_until END,
        failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= ?2 THEN 0 ELSE failed_sign_ins + 1 END
     WHERE user_id = ?1";

/// Moving a session to another council; `?1` token hash, `?2` council.
pub(super) const SWITCH_COUNCIL: &str = "UPDATE staff_sessions SET tenant = ?2
     WHERE token_hash = ?1 AND EXISTS (SELECT 1 FROM staff_roles r
         WHERE r.user_id = staff_sessions.user_id AND r.tenant = ?2)";

/// A session row as both databases return it: user, name, tenant, role,
/// csrf.
pub(super) fn parse_session(
    row: (String, String, String, String, String),
) -> Result<StaffSession, StoreError> {
    let (user, name, tenant, role, csrf) = row;
    Ok(StaffSession {
        user: parse("user id", user)?,
        name,
        tenant: parse("tenant id", tenant)?,
        role: StaffRole::parse(&role)?,
        csrf,
    })
}

/// Role rows as both databases return them.
pub(super) fn parse_roles(
    rows: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(TenantId, StaffRole)>, StoreError> {
    rows.into_iter()
        .map(|(tenant, role)| Ok((parse("tenant id", tenant)?, StaffRole::parse(&role)?)))
        .collect()
}

/// The session query, the same on both databases but for placeholders.
pub(super) const SESSION_QUERY: &str = "SELECT s.user_id, u.name, s.tenant, r.role, s.csrf
     FROM staff_sessions s
     JOIN users u ON u.id = s.user_id
     JOIN staff_accounts a ON a.user_id = s.user_id
     JOIN staff_roles r ON r.user_id = s.user_id AND r.tenant = s.tenant
     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.active";

impl StaffRecords for SqliteStore {
    fn put_staff_account(
        &self,
        user: UserId,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.connection()?.execute(
            "INSERT INTO staff_accounts (user_id, email, password_hash) VALUES (?1, lower(?2), ?3)
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email,
                 password_hash = excluded.password_hash",
            params![user.to_string(), email.trim(), password_hash],
        )?;
        Ok(())
    }

    fn grant_staff_role(
        &self,
        user: UserId,
        tenant: TenantId,
        role: StaffRole,
    ) -> Result<(), StoreError> {
        self.connection()?.execute(
            "INSERT INTO staff_roles (user_id, tenant, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, tenant) DO UPDATE SET role = excluded.role",
            params![user.to_string(), tenant.to_string(), role.as_str()],
        )?;
        Ok(())
    }

    fn staff_account(&self, email: &str) -> Result<Option<StaffAccount>, StoreError> {
        let row = self
            .connection()?
            .query_row(
                "SELECT a.user_id, u.name, a.password_hash, a.active, a.locked_until
                 FROM staff_accounts a JOIN users u ON u.id = a.user_id
                 WHERE a.email = lower(?1)",
                params![email.trim()],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, bool>(3)?,
                        row.get::<_, Option<i64>>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(user, name, password_hash, active, locked_until)| {
            Ok(StaffAccount {
                user: parse("user id", user)?,
                name,
                password_hash,
                active,
                locked_until: locked_until.map(Timestamp::from_millis),
            })
        })
        .transpose()
    }

    fn staff_roles(&self, user: UserId) -> Result<Vec<(TenantId, StaffRole)>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection
            .prepare("SELECT tenant, role FROM staff_roles WHERE user_id = ?1 ORDER BY tenant")?;
        let rows = statement
            .query_map(params![user.to_string()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        parse_roles(rows)
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
        self.connection()?.execute(
            "INSERT INTO staff_sessions (token_hash, user_id, tenant, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                token_hash,
                user.to_string(),
                tenant.to_string(),
                csrf,
                now.as_millis(),
                expires_at.as_millis()
            ],
        )?;
        Ok(())
    }

    fn staff_session(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<StaffSession>, StoreError> {
        let row = self
            .connection()?
            .query_row(SESSION_QUERY, params![token_hash, now.as_millis()], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .optional()?;
        row.map(parse_session).transpose()
    }

    fn end_staff_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.connection()?.execute(
            "DELETE FROM staff_sessions WHERE token_hash = ?1",
            params![token_hash],
        )?;
        Ok(())
    }

    fn record_failed_sign_in(
        &self,
        user: UserId,
        limit: u32,
        lock_until: Timestamp,
    ) -> Result<(), StoreError> {
        self.connection()?.execute(
            FAILED_SIGN_IN,
            params![user.to_string(), i64::from(limit), lock_until.as_millis()],
        )?;
        Ok(())
    }

    fn record_sign_in(&self, user: UserId) -> Result<(), StoreError> {
        self.connection()?.execute(
            "UPDATE staff_accounts SET failed_sign_ins = 0, locked_until = NULL WHERE user_id = ?1",
            params![user.to_string()],
        )?;
        Ok(())
    }

    fn switch_staff_council(
        &self,
        token_hash: &[u8],
        tenant: TenantId,
    ) -> Result<bool, StoreError> {
        let changed = self
            .connection()?
            .execute(SWITCH_COUNCIL, params![token_hash, tenant.to_string()])?;
        Ok(changed > 0)
    }
}
