//! Random secrets: enrolment codes people type, device tokens devices keep,
//! and ids for new devices. From the operating system's generator.

use automerge::ActorId;
use doorstep_shared::ids::DeviceId;

/// The generator failed (it does not, on any supported system).
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct NoRandomness(#[from] getrandom::Error);

/// `N` random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// Letters and digits that cannot be misread for each other (no I, O, 0, 1).
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A code to type on a phone: `ABCDE-FGHJK`, 50 bits.
pub fn enrolment_code() -> Result<String, NoRandomness> {
    let bytes = random::<10>()?;
    let mut code = String::with_capacity(11);
    for (i, byte) in bytes.iter().enumerate() {
        if i == 5 {
            code.push('-');
        }
        // 256 is a multiple of 32: every letter is equally likely.
        code.push(char::from(CODE_ALPHABET[usize::from(byte % 32)]));
    }
    Ok(code)
}

/// A device token: 256 random bits as hex.
pub fn device_token() -> Result<String, NoRandomness> {
    Ok(random::<32>()?.iter().map(|b| format!("{b:02x}")).collect())
}

/// A new device's id and Automerge actor id.
pub fn new_device() -> Result<(DeviceId, ActorId), NoRandomness> {
    Ok((
        DeviceId::from_random_bytes(random::<16>()?),
        ActorId::from(random::<16>()?.as_slice()),
    ))
}

/// A secret from configuration, kept out of logs and debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Whether `offered` is this secret, compared in constant time.
    pub fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() < 16 {
            Err("must be at least 16 characters".into())
        } else {
            Ok(Secret(text.to_owned()))
        }
    }
}

/// A setting that may hold a password — a database or SMTP URL: read as
/// text, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden(String);

impl Hidden {
    /// The text itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hidden(…)")
    }
}

impl std::str::FromStr for Hidden {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Hidden(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_two_groups_of_five_unambiguous_characters() {
        let code = enrolment_code().unwrap();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(
            code.chars()
                .filter(|c| *c != '-')
                .all(|c| CODE_ALPHABET.contains(&(c as u8)))
        );
        assert_ne!(enrolment_code().unwrap(), code);
    }

    #[test]
    fn secrets_match_only_themselves_and_never_print() {
        let secret: Secret = "correct horse battery".parse().unwrap();
        assert!(secret.matches("correct horse battery"));
        assert!(!secret.matches("correct horse battera"));
        assert!(!secret.matches("short"));
        assert_eq!(format!("{secret:?}"), "Secret(…)");
        assert!("short".parse::<Secret>().is_err());
    }
}
