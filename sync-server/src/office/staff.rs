//! Staff sign-in for the back office. Passwords are kept only as Argon2id
//! hashes and checked off the async threads (a check costs tens of
//! milliseconds by design). A signed-in session is a 256-bit token in a
//! cookie (`HttpOnly`, `SameSite=Lax`, and `Secure` when the public address
//! is `https://`) of which the server keeps
//! only the SHA-256; it lasts [`SESSION_HOURS`] and carries a second
//! random token every form must send back, so a form on another site
//! cannot act for a signed-in dispatcher.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use doorstep_shared::ids::{TenantId, UserId};
use doorstep_shared::time::Timestamp;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::secrets::{device_token, random};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "doorstep_session";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// A password could not be hashed (it cannot fail with valid settings).
#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct HashFailed(String);

/// The Argon2id hash (PHC string) of a new password.
pub fn hash_password(password: &str) -> Result<String, HashFailed> {
    let bytes = random::<16>().map_err(|error| HashFailed(error.to_string()))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|error| HashFailed(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashFailed(error.to_string()))
}

/// Whether `password` is the one `hash` was made from.
pub fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// How a sign-in went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in: the session token for the cookie.
    Session(String),
    /// A wrong email or password, an inactive account or one with no
    /// council (which are not told apart).
    Refused,
    /// Too many wrong passwords in a row for this email from this address:
    /// refused, even with the right one, for
    /// [`crate::throttle::LOCK_MINUTES`]. Other addresses are not stopped,
    /// and an email without an account is stopped the same way, so this
    /// tells no one which emails exist.
    Locked,
}

/// Signs a member of staff in from `client`'s address.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
    now: Timestamp,
) -> Result<SignIn, ApiError> {
    let throttle = state.throttle();
    if throttle.sign_in_locked(email, client, now) {
        return Ok(SignIn::Locked);
    }
    let offered = email;
    let email = email.trim().to_owned();
    let account = state
        .with_store(move |store| store.staff_account(&email))
        .await?;
    let password = password.to_owned();
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    // An unknown email costs the same as a wrong password.
    let matches = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => password_matches(&password, &hash),
        None => {
            let _ = hash_password(&password);
            false
        }
    })
    .await?;
    let Some(account) = account.filter(|account| account.active && matches) else {
        throttle.sign_in_failed(offered, client, now);
        return Ok(SignIn::Refused);
    };
    throttle.sign_in_succeeded(offered, client);
    let user = account.user;
    let roles = state
        .with_store(move |store| store.staff_roles(user))
        .await?;
    let Some((tenant, _)) = roles.first().copied() else {
        return Ok(SignIn::Refused);
    };
    let token = device_token()?;
    let csrf = device_token()?;
    let hashed = token_hash(&token);
    let expires = now.plus_minutes(SESSION_HOURS * 60);
    state
        .with_store(move |store| {
            store.create_staff_session(&hashed, user, tenant, &csrf, now, expires)
        })
        .await?;
    Ok(SignIn::Session(token))
}

/// Moves the request's session to another of the user's councils; false
/// if they have no role there.
pub async fn switch_council(
    state: &AppState,
    headers: &HeaderMap,
    tenant: doorstep_shared::ids::TenantId,
) -> Result<bool, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(false);
    };
    let hashed = token_hash(&token);
    state
        .with_store(move |store| store.switch_staff_council(&hashed, tenant))
        .await
        .map_err(Into::into)
}

/// The session cookie's value in a request, if any.
fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The live session a request carries, if any.
pub async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<StaffSession>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let hashed = token_hash(&token);
    let now = state.clock().now();
    state
        .with_store(move |store| store.staff_session(&hashed, now))
        .await
        .map_err(Into::into)
}

/// Ends the session a request carries.
pub async fn sign_out(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(token) = session_token(headers) {
        let hashed = token_hash(&token);
        state
            .with_store(move |store| store.end_staff_session(&hashed))
            .await?;
    }
    Ok(())
}

/// The cookie that carries the sign-in form's token.
pub const SIGN_IN_COOKIE: &str = "doorstep_sign_in";

/// `; Secure` when the server is reached over `https://` (see
/// [`AppState::secure_cookies`]).
fn secure(secure: bool) -> &'static str {
    if secure { "; Secure" } else { "" }
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(token: &str, https: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly{}; SameSite=Lax; Max-Age={}",
        secure(https),
        SESSION_HOURS * 60 * 60
    )
}

/// The `Set-Cookie` value that ends one.
pub fn cleared_cookie(https: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly{}; SameSite=Lax; Max-Age=0",
        secure(https)
    )
}

/// The `Set-Cookie` value that gives the sign-in form its token: a form
/// posted from another site carries neither, so no one can sign a
/// dispatcher's browser in to an account of theirs.
pub fn sign_in_cookie(token: &str, https: bool) -> String {
    format!(
        "{SIGN_IN_COOKIE}={token}; Path=/office/sign-in; HttpOnly{}; SameSite=Strict; Max-Age=3600",
        secure(https)
    )
}

/// A cookie's value in a request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether two tokens are the same, compared in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a form's token is the session's, compared in constant time.
pub fn csrf_matches(session: &StaffSession, offered: &str) -> bool {
    same_token(&session.csrf, offered)
}

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
}

impl std::fmt::Display for StaffRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StaffRole {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "dispatcher" => Ok(Self::Dispatcher),
            "admin" => Ok(Self::Admin),
            _ => Err(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_only_its_own_hash() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("correct horse battery staple", &hash));
        assert!(!password_matches("correct horse battery stapler", &hash));
        assert!(!password_matches("anything", "not a hash"));
        assert_ne!(
            hash,
            hash_password("correct horse battery staple").unwrap(),
            "salted"
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            "theme=dark; doorstep_session=abc123; other=1"
                .parse()
                .unwrap(),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("abc123"));
        assert!(session_cookie("abc", true).contains("HttpOnly; Secure; SameSite=Lax"));
        assert!(
            session_cookie("abc", false).contains("HttpOnly; SameSite=Lax"),
            "a plain http:// demo gets a cookie browsers keep"
        );
    }
}
