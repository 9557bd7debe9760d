//! The resident's contact document: one small Automerge document per job.
//!
//! Personal data lives here and never in the job document, because a CRDT's
//! history cannot be edited: when the retention period ends the server deletes
//! this whole document, and the job's history keeps nothing that identifies
//! the resident.

use std::fmt;
use std::str::FromStr;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};

use crate::document::DocumentError;

use crate::ids::JobId;

/// The contact document's current schema version.
pub const CONTACT_SCHEMA_VERSION: u64 = 1;

/// How a resident is reached about a job.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Contact {
    /// The schema version this document was written with.
    pub schema_version: u64,
    /// The job this contact belongs to.
    pub job: JobId,
    /// The resident's name, as they gave it.
    pub name: String,
    /// A phone number, if given.
    pub phone: Option<PhoneNumber>,
    /// An email address, if given.
    pub email: Option<EmailAddress>,
    /// The channel the resident asked for.
    pub preferred_channel: Channel,
    /// The resident replied STOP or asked for no texts.
    pub sms_opt_out: bool,
}

/// A way of sending progress updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum Channel {
    /// Text messages to a mobile.
    Sms,
    /// Email.
    Email,
    /// No updates.
    None,
}

impl Contact {
    /// A new contact document, written by the server.
    pub fn create_document(&self, server: automerge::ActorId) -> Result<AutoCommit, DocumentError> {
        let mut doc = AutoCommit::new().with_actor(server);
        autosurgeon::reconcile(&mut doc, self)?;
        Ok(doc)
    }

    /// Writes these details over the contact document they were read from,
    /// as the server does when staff correct them: only the fields that
    /// differ change.
    pub fn write_to(&self, doc: &mut AutoCommit) -> Result<(), DocumentError> {
        autosurgeon::reconcile(doc, self)?;
        Ok(())
    }

    /// Reads a contact document; a malformed phone number or email address
    /// in it is an error, never a bad value passed on.
    pub fn load(doc: &AutoCommit) -> Result<Contact, DocumentError> {
        Ok(autosurgeon::hydrate(doc)?)
    }

    /// The channel updates should go by, honouring the resident's preference
    /// and opt-out, falling back to the other channel, or `None` if neither works.
    pub fn reachable_by(&self) -> Option<Channel> {
        let can_text = !self.sms_opt_out && self.phone.as_ref().is_some_and(PhoneNumber::is_mobile);
        let can_email = self.email.is_some();
        match self.preferred_channel {
            Channel::None => None,
            Channel::Sms if can_text => Some(Channel::Sms),
            Channel::Email if can_email => Some(Channel::Email),
            _ if can_email => Some(Channel::Email),
            _ if can_text => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// A contact detail did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidContact {
    /// Not a phone number this service can dial.
    #[error("{0:?} is not a phone number: give a UK number such as 07700 900123, or +44…")]
    Phone(String),
    /// Not an email address.
    #[error("{0:?} is not an email address: it should look like name@example.org")]
    Email(String),
}

/// A phone number in E.164 form (`+447700900123`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// UK mobiles (07…) can receive texts; landlines cannot.
    pub fn is_mobile(&self) -> bool {
        self.0.starts_with("+447")
    }
}

impl FromStr for PhoneNumber {
    type Err = InvalidContact;

    /// Accepts UK numbers in national (`01903 221000`) or international form
    /// and other international numbers starting with `+`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let refuse = || InvalidContact::Phone(input.to_owned());
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let (international, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse());
        }
        let national = match (international, digits.strip_prefix("44")) {
            (true, Some(rest)) => rest.strip_prefix('0').unwrap_or(rest),
            (true, None) if (8..=15).contains(&digits.len()) => {
                return Ok(Self(format!("+{digits}")));
            }
            (true, None) => return Err(refuse()),
            (false, _) => digits.strip_prefix('0').ok_or_else(refuse)?,
        };
        if !(9..=10).contains(&national.len()) || national.starts_with('0') {
            return Err(refuse());
        }
        Ok(Self(format!("+44{national}")))
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data stays out of logs.
        f.write_str("PhoneNumber(…)")
    }
}

string_encoded!(PhoneNumber);

/// An email address, with its domain in lower case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = InvalidContact;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let refuse = || InvalidContact::Email(input.to_owned());
        let trimmed = input.trim();
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(refuse)?;
        let labels_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        if !labels_ok || !local_ok || trimmed.len() > 254 {
            return Err(refuse());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(…)")
    }
}

string_encoded!(EmailAddress);

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::uk_mobile_national("07700 900123", "+447700900123")]
    #[case::uk_mobile_international("+44 (0)7700-900123", "+447700900123")]
    #[case::uk_landline("01903 221000", "+441903221000")]
    #[case::irish_mobile("+353 85 123 4567", "+353851234567")]
    fn phone_numbers_are_stored_in_e164(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(input.parse::<PhoneNumber>().unwrap().as_str(), stored);
    }

    #[rstest]
    #[case::letters("call me")]
    #[case::too_short("0770")]
    #[case::double_zero("00 7700 900123")]
    #[case::empty("")]
    fn non_numbers_are_refused(#[case] input: &str) {
        assert_eq!(
            input.parse::<PhoneNumber>(),
            Err(InvalidContact::Phone(input.to_owned()))
        );
    }

    #[test]
    fn email_addresses_keep_the_local_part_and_lower_case_the_domain() {
        let email: EmailAddress = " Sam.Jones@Worthing.GOV.uk ".parse().unwrap();
        assert_eq!(email.as_str(), "Sam.Jones@worthing.gov.uk");
        for bad in [
            "sam",
            "sam@",
            "@worthing.gov.uk",
            "sam@localhost",
            "s m@x.org",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn personal_data_stays_out_of_debug_output() {
        let phone: PhoneNumber = "07700 900123".parse().unwrap();
        assert!(!format!("{phone:?}").contains("900123"));
    }

    fn sam() -> Contact {
        Contact {
            schema_version: CONTACT_SCHEMA_VERSION,
            job: JobId::from_u128(1),
            name: "Sam Jones".into(),
            phone: Some("07700 900123".parse().unwrap()),
            email: Some("sam@example.org".parse().unwrap()),
            preferred_channel: Channel::Sms,
            sms_opt_out: false,
        }
    }

    #[test]
    fn an_opted_out_resident_is_emailed_instead_of_texted() {
        let mut contact = sam();
        assert_eq!(contact.reachable_by(), Some(Channel::Sms));
        contact.sms_opt_out = true;
        assert_eq!(contact.reachable_by(), Some(Channel::Email));
        contact.email = None;
        assert_eq!(contact.reachable_by(), None);
    }

    #[test]
    fn a_contact_document_round_trips_and_refuses_a_malformed_number() {
        use automerge::transaction::Transactable;

        let mut doc = sam()
            .create_document(automerge::ActorId::from(b"server".as_slice()))
            .unwrap();
        assert_eq!(Contact::load(&doc).unwrap(), sam());

        doc.put(automerge::ROOT, "phone", "call me maybe").unwrap();
        let error = Contact::load(&doc).unwrap_err();
        assert!(matches!(error, DocumentError::Hydrate(_)), "{error}");
    }
}
