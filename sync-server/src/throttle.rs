//! Rate limits per client address, for the routes anyone can call that
//! cost the server or a person something: signing in, redeeming an
//! enrolment code, reporting a repair or a missed bin, opening a tracking
//! page. Each address has a bucket per kind of request that holds a
//! minute's allowance and refills at that rate; a request finding it empty
//! gets 429 with `Retry-After`. The client's address is the connection's,
//! or the last one a trusted proxy (`--trusted-proxy`) added to
//! `X-Forwarded-For`; a header from anyone else is ignored.
//!
//! Wrong passwords are counted per account *and* address: after
//! [`SIGN_IN_FAILURES`] in a row from one address, that address is refused
//! for that email for [`LOCK_MINUTES`] whether or not the email has an
//! account, so throttling neither locks a member of staff out from where
//! they have not failed nor tells anyone which emails exist.
//!
//! Each device may upload [`RateLimits::upload_bytes_per_day`] of photos a
//! day; a chunk past that gets 429 until midnight (UTC), and the phone's
//! queue tries again then.
//!
//! Counts are kept in memory per node: a limit of N per minute is N per
//! node behind a load balancer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use doorstep_shared::ids::DeviceId;
use doorstep_shared::time::{Date, Timestamp};

use crate::state::AppState;

/// A kind of request with its own rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// `POST /office/sign-in`.
    SignIn,
    /// `POST /api/enrol`.
    Enrolment,
    /// `POST /report`.
    Report,
    /// `POST /missed-bin`.
    MissedBin,
    /// Residents' tracking pages.
    Tracking,
}

/// Requests per minute per client address, for each bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Sign-in attempts.
    pub sign_in: u32,
    /// Enrolment codes redeemed (or tried).
    pub enrolment: u32,
    /// Repairs reported.
    pub report: u32,
    /// Missed bins reported.
    pub missed_bin: u32,
    /// Tracking pages opened.
    pub tracking: u32,
    /// Photo bytes one device may upload in a day (UTC).
    pub upload_bytes_per_day: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            sign_in: 10,
            enrolment: 10,
            report: 5,
            missed_bin: 5,
            tracking: 120,
            upload_bytes_per_day: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl RateLimits {
    fn per_minute(&self, bucket: Bucket) -> u32 {
        match bucket {
            Bucket::SignIn => self.sign_in,
            Bucket::Enrolment => self.enrolment,
            Bucket::Report => self.report,
            Bucket::MissedBin => self.missed_bin,
            Bucket::Tracking => self.tracking,
        }
    }
}

/// Wrong passwords in a row, from one address for one email, that stop
/// that address trying that email.
pub const SIGN_IN_FAILURES: u32 = 5;
/// How long they stop it.
pub const LOCK_MINUTES: i64 = 15;

/// Buckets kept before full ones are forgotten.
const MAX_TRACKED: usize = 100_000;
const MINUTE_MILLIS: f64 = 60_000.0;

/// A request refused for its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until one more request would be taken.
    pub retry_after_secs: u64,
}

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        let mut response = crate::error::ApiError::TooMany(format!(
            "too many requests from your address: try again in {} seconds",
            self.retry_after_secs
        ))
        .into_response();
        if let Ok(value) = self.retry_after_secs.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[derive(Debug, Clone, Copy)]
struct Level {
    tokens: f64,
    at: i64,
}

/// Wrong passwords from one address for one email.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Timestamp>,
}

/// The server's counts.
#[derive(Debug, Default)]
pub struct Throttle {
    limits: RateLimits,
    trusted_proxies: Vec<IpAddr>,
    levels: Mutex<HashMap<(Bucket, Option<IpAddr>), Level>>,
    failures: Mutex<HashMap<(String, Option<IpAddr>), Failures>>,
    uploads: Mutex<HashMap<DeviceId, (Date, u64)>>,
}

impl Throttle {
    /// Counts against `limits`, trusting `X-Forwarded-For` only from
    /// `trusted_proxies`.
    pub fn new(limits: RateLimits, trusted_proxies: Vec<IpAddr>) -> Self {
        Throttle {
            limits,
            trusted_proxies,
            ..Throttle::default()
        }
    }

    /// Takes one request of `bucket` from `client`, or says how long to wait.
    pub fn take(
        &self,
        bucket: Bucket,
        client: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(), Throttled> {
        let rate = f64::from(self.limits.per_minute(bucket).max(1));
        let now = now.as_millis();
        let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        if levels.len() >= MAX_TRACKED {
            levels.retain(|_, level| {
                level.tokens + (now - level.at) as f64 * rate / MINUTE_MILLIS < rate
            });
        }
        let level = levels.entry((bucket, client)).or_insert(Level {
            tokens: rate,
            at: now,
        });
        let refilled =
            (level.tokens + (now - level.at).max(0) as f64 * rate / MINUTE_MILLIS).min(rate);
        level.at = now.max(level.at);
        if refilled >= 1.0 {
            level.tokens = refilled - 1.0;
            Ok(())
        } else {
            level.tokens = refilled;
            let wait = (1.0 - refilled) * MINUTE_MILLIS / rate / 1000.0;
            Err(Throttled {
                retry_after_secs: wait.ceil().max(1.0) as u64,
            })
        }
    }

    /// Whether `device` may send another photo chunk today.
    pub fn upload_allowed(&self, device: DeviceId, now: Timestamp) -> Result<(), Throttled> {
        let uploads = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        match uploads.get(&device) {
            Some((day, used))
                if *day == now.date() && *used >= self.limits.upload_bytes_per_day =>
            {
                let midnight = Timestamp::at(now.date().succ(), 0, 0);
                let wait = (midnight.as_millis() - now.as_millis()).max(1000) / 1000;
                Err(Throttled {
                    retry_after_secs: u64::try_from(wait).unwrap_or(1),
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts bytes `device` uploaded.
    pub fn uploaded(&self, device: DeviceId, bytes: u64, now: Timestamp) {
        let mut uploads = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        let today = now.date();
        if uploads.len() >= MAX_TRACKED {
            uploads.retain(|_, (day, _)| *day == today);
        }
        let entry = uploads.entry(device).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        entry.1 = entry.1.saturating_add(bytes);
    }

    /// Whether `client` is stopped from trying `email` now.
    pub fn sign_in_locked(&self, email: &str, client: Option<IpAddr>, now: Timestamp) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(&(email.trim().to_lowercase(), client))
            .and_then(|failures| failures.locked_until)
            .is_some_and(|until| until > now)
    }

    /// Records a wrong password (or unknown email) from `client`.
    pub fn sign_in_failed(&self, email: &str, client: Option<IpAddr>, now: Timestamp) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, failures| failures.locked_until.is_some_and(|until| until > now));
        }
        let entry = failures
            .entry((email.trim().to_lowercase(), client))
            .or_insert(Failures {
                count: 0,
                locked_until: None,
            });
        if entry.locked_until.is_some_and(|until| until <= now) {
            *entry = Failures {
                count: 0,
                locked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= SIGN_IN_FAILURES {
            entry.locked_until = Some(now.plus_minutes(LOCK_MINUTES));
        }
    }

    /// Forgets `client`'s wrong passwords for `email` (it signed in).
    pub fn sign_in_succeeded(&self, email: &str, client: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&(email.trim().to_lowercase(), client));
    }
}

/// The client's address, as [`client_address`] finds it (none when the
/// server is called without a connection, as in-process tests do).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        Ok(ClientAddress(client_address(state, peer, &parts.headers)))
    }
}

/// The address a request comes from: the connection's, unless that is a
/// trusted proxy, whose `X-Forwarded-For` then names the client (the last
/// address in it that is not itself a trusted proxy).
pub fn client_address(
    state: &AppState,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let trusted = &state.throttle().trusted_proxies;
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|address| !trusted.contains(address))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000 + seconds * 1000)
    }

    #[test]
    fn a_bucket_holds_a_minutes_allowance_and_refills_at_that_rate() {
        let limits = RateLimits {
            report: 3,
            ..RateLimits::default()
        };
        let throttle = Throttle::new(limits, Vec::new());
        let one: Option<IpAddr> = "192.0.2.1".parse().ok();
        let other: Option<IpAddr> = "192.0.2.2".parse().ok();
        for _ in 0..3 {
            assert_eq!(throttle.take(Bucket::Report, one, at(0)), Ok(()));
        }
        let refused = throttle.take(Bucket::Report, one, at(0)).unwrap_err();
        assert_eq!(refused.retry_after_secs, 20);
        assert_eq!(throttle.take(Bucket::Report, other, at(0)), Ok(()));
        assert_eq!(throttle.take(Bucket::Tracking, one, at(0)), Ok(()));
        assert_eq!(throttle.take(Bucket::Report, one, at(20)), Ok(()));
        assert!(throttle.take(Bucket::Report, one, at(20)).is_err());
    }

    #[test]
    fn wrong_passwords_stop_only_the_address_that_made_them() {
        let throttle = Throttle::new(RateLimits::default(), Vec::new());
        let attacker: Option<IpAddr> = "198.51.100.7".parse().ok();
        let office: Option<IpAddr> = "203.0.113.9".parse().ok();
        for _ in 0..SIGN_IN_FAILURES {
            throttle.sign_in_failed("Dan@Example.org ", attacker, at(0));
        }
        assert!(throttle.sign_in_locked("dan@example.org", attacker, at(1)));
        assert!(!throttle.sign_in_locked("dan@example.org", office, at(1)));
        assert!(!throttle.sign_in_locked("dan@example.org", attacker, at(LOCK_MINUTES * 60)));
    }
}
