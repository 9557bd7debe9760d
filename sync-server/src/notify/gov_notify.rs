//! GOV.UK Notify as the outbox's provider, through its REST API as councils
//! use it. Each request carries a fresh JWT (HS256, `iss` = the service id,
//! `iat` = now in seconds; Notify refuses one more than 30 seconds off),
//! made from the API key `{name}-{service id}-{secret}` — test, team and
//! live keys look alike. Doorstep's texts live in its service definitions,
//! so the council keeps one generic Notify template per channel whose
//! content is `((subject))`/`((body))`, and every message fills them in.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorstep_shared::contact::Channel;
use doorstep_shared::notify::Message;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::clock::Clock;
use crate::notify::outbox::{Provider, SendError, SendFuture};

/// The public Notify API.
pub const DEFAULT_BASE_URL: &str = "https://api.notifications.service.gov.uk";

/// A Notify API key, split into the service id and the signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyKey {
    service_id: String,
    secret: String,
}

impl std::fmt::Debug for NotifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NotifyKey({}, secret …)", self.service_id)
    }
}

impl std::str::FromStr for NotifyKey {
    type Err = String;

    /// `{key name}-{service id}-{secret}`: the two UUIDs are the last 73
    /// characters (the name may hold hyphens of its own).
    fn from_str(key: &str) -> Result<Self, Self::Err> {
        let uuid = |text: &str| {
            text.len() == 36
                && text.char_indices().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    _ => c.is_ascii_hexdigit(),
                })
        };
        let tail = key
            .len()
            .checked_sub(73)
            .and_then(|start| key.get(start..))
            .filter(|_| key.len() > 74 && key.as_bytes()[key.len() - 74] == b'-')
            .ok_or("a Notify API key is `name-serviceid-secret`")?;
        let (service_id, secret) = (&tail[..36], &tail[37..]);
        if !uuid(service_id) || !uuid(secret) || tail.as_bytes()[36] != b'-' {
            return Err("a Notify API key ends in two UUIDs: the service id and the secret".into());
        }
        Ok(Self {
            service_id: service_id.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

impl NotifyKey {
    /// The bearer token for a request made at `now_seconds`.
    pub fn token(&self, now_seconds: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({ "iss": self.service_id, "iat": now_seconds })
                .to_string()
                .as_bytes(),
        );
        let signing_input = format!("{header}.{claims}");
        let signature = sign(self.secret.as_bytes(), signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// HMAC-SHA256 of `message` under `key`.
pub fn sign(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Sends through GOV.UK Notify.
pub struct GovNotify {
    client: reqwest::Client,
    base_url: String,
    key: NotifyKey,
    sms_template: String,
    email_template: String,
    clock: Arc<dyn Clock>,
}

impl GovNotify {
    /// A provider for `key`, with the ids of the generic SMS and email
    /// templates, at `base_url` (see [`DEFAULT_BASE_URL`]).
    pub fn new(
        key: NotifyKey,
        sms_template: String,
        email_template: String,
        base_url: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            sms_template,
            email_template,
            clock,
        })
    }
}

impl Provider for GovNotify {
    fn send<'a>(&'a self, message: &'a Message, reference: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let personalisation = json!({
                "subject": message.subject.clone().unwrap_or_default(),
                "body": message.body,
            });
            let (path, body) = match message.channel {
                Channel::Sms => (
                    "/v2/notifications/sms",
                    json!({
                        "phone_number": message.to,
                        "template_id": self.sms_template,
                        "personalisation": personalisation,
                        "reference": reference,
                    }),
                ),
                Channel::Email => (
                    "/v2/notifications/email",
                    json!({
                        "email_address": message.to,
                        "template_id": self.email_template,
                        "personalisation": personalisation,
                        "reference": reference,
                    }),
                ),
                Channel::None => return Err(SendError::Permanent("no channel".into())),
            };
            let now_seconds = self.clock.now().as_millis().div_euclid(1000);
            let response = self
                .client
                .post(format!("{}{path}", self.base_url))
                .bearer_auth(self.key.token(now_seconds))
                .json(&body)
                .send()
                .await
                .map_err(|error| SendError::Temporary(format!("Notify did not answer: {error}")))?;
            let status = response.status();
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            if status.is_success() {
                return answer["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| SendError::Temporary("Notify's answer had no id".into()));
            }
            let why = format!("Notify answered {status}: {}", answer["errors"]);
            // Rate limits and Notify's own faults pass; a bad request, a
            // bad key or a number Notify refuses will not.
            if status.as_u16() == 429 || status.is_server_error() {
                Err(SendError::Temporary(why))
            } else {
                Err(SendError::Permanent(why))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "doorstep_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";

    #[test]
    fn an_api_key_splits_into_service_id_and_secret_even_with_hyphens_in_its_name() {
        let key: NotifyKey = KEY.parse().unwrap();
        assert_eq!(key.service_id, "26785a09-ab16-4eb0-8407-a37497a57506");
        assert_eq!(key.secret, "3d844edf-8d35-48ac-975b-e847b4f122b0");
        assert!("short".parse::<NotifyKey>().is_err());
        assert!(
            "name-26785a09-ab16-4eb0-8407-a37497a57506-not-a-uuid-at-all-0000000000000"
                .parse::<NotifyKey>()
                .is_err()
        );
        assert!(
            !format!("{key:?}").contains("3d844edf"),
            "the secret never prints"
        );
    }

    #[test]
    fn the_token_is_a_signed_jwt_with_the_service_id_and_the_time() {
        let key: NotifyKey = KEY.parse().unwrap();
        let token = key.token(1_795_765_800);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "26785a09-ab16-4eb0-8407-a37497a57506");
        assert_eq!(claims["iat"], 1_795_765_800);
        let expected = sign(
            b"3d844edf-8d35-48ac-975b-e847b4f122b0",
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), expected);
    }
}
