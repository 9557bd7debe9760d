//! "Report a repair": the resident's form, its checks and its pages. The
//! form offers the categories of every service whose definition has a
//! `[report]` section; a report becomes a job (through [`crate::intake`])
//! with the category's priority, the resident's words as its notes, their
//! photos filed under the service's report photo kind, and their contact
//! details in the contact document. Errors come back on the same page with
//! an error summary, every answer kept but the photos (a browser cannot be
//! given files back).

use doorstep_shared::contact::{Channel, Contact, EmailAddress, PhoneNumber};
use doorstep_shared::ids::ServiceId;
use doorstep_shared::job::looks_like_postcode;
use doorstep_shared::service::{ReportCategory, ServiceCatalog, ServiceDefinition};

use crate::intake::{NewContact, NewJob};
use maud::{Markup, html};

use crate::pages::layout::{error_message, error_summary};

/// Photos a resident may send with one report.
pub(crate) const MAX_PHOTOS: usize = 3;
/// The largest photo a resident may send.
pub(crate) const MAX_RESIDENT_PHOTO_BYTES: usize = 20 * 1024 * 1024;
/// The longest description taken, in characters.
pub(crate) const MAX_DESCRIPTION: usize = 2000;

/// The form's answers, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReportForm {
    /// `housing-repair:leak`.
    pub category: String,
    /// What is wrong.
    pub description: String,
    /// House number and street.
    pub street: String,
    /// Town or city.
    pub town: String,
    /// Postcode.
    pub postcode: String,
    /// Full name.
    pub name: String,
    /// How to send updates: `sms`, `email` or `none`.
    pub updates: String,
    /// Mobile number.
    pub phone: String,
    /// Email address.
    pub email: String,
}

/// One problem with the answers: the field's id and what to do.
pub(crate) type FieldError = (&'static str, String);

/// The fields in the order the form asks for them.
pub(crate) const FIELDS: [&str; 10] = [
    "category",
    "description",
    "photos",
    "street",
    "town",
    "postcode",
    "name",
    "updates",
    "phone",
    "email",
];

impl ReportForm {
    /// Sets one field by its form name; unknown names are ignored.
    pub(crate) fn set(&mut self, name: &str, value: String) {
        let field = match name {
            "category" => &mut self.category,
            "description" => &mut self.description,
            "street" => &mut self.street,
            "town" => &mut self.town,
            "postcode" => &mut self.postcode,
            "name" => &mut self.name,
            "updates" => &mut self.updates,
            "phone" => &mut self.phone,
            "email" => &mut self.email,
            _ => return,
        };
        *field = value;
    }

    /// The job the answers ask for (no photos yet), or every problem with
    /// them, in the order the form asks.
    pub(crate) fn check(&self, services: &ServiceCatalog) -> Result<NewJob, Vec<FieldError>> {
        let mut errors = Vec::new();
        let chosen = self
            .category
            .split_once(':')
            .and_then(|(service, category)| {
                let service = services.get(&service.parse::<ServiceId>().ok()?)?;
                let category = service
                    .report
                    .as_ref()?
                    .categories
                    .iter()
                    .find(|c| c.id.as_str() == category)?;
                Some((service, category))
            });
        if chosen.is_none() {
            errors.push(("category", "Select what needs repairing".into()));
        }
        let description = self.description.trim();
        if description.is_empty() {
            errors.push(("description", "Describe the problem".into()));
        } else if description.chars().count() > MAX_DESCRIPTION {
            errors.push((
                "description",
                format!("The description must be {MAX_DESCRIPTION} characters or fewer"),
            ));
        }
        if self.street.trim().is_empty() {
            errors.push(("street", "Enter the house number and street".into()));
        }
        if self.town.trim().is_empty() {
            errors.push(("town", "Enter the town or city".into()));
        }
        let postcode = self.postcode.trim().to_uppercase();
        if postcode.is_empty() {
            errors.push(("postcode", "Enter the postcode".into()));
        } else if !looks_like_postcode(&postcode) {
            errors.push((
                "postcode",
                "Enter a real postcode, like BN11 1HA, with a space".into(),
            ));
        }
        let contact = check_contact(
            &ContactAnswers {
                name: &self.name,
                updates: &self.updates,
                phone: &self.phone,
                email: &self.email,
            },
            &mut errors,
        );
        errors.sort_by_key(|(field, _)| FIELDS.iter().position(|f| f == field));
        match (chosen, contact) {
            (Some((service, category)), Some(contact)) if errors.is_empty() => Ok(NewJob {
                service: service.id.clone(),
                priority: category.priority.clone(),
                address: format!("{}, {}, {postcode}", self.street.trim(), self.town.trim()),
                description: format!("{}: {description}", category.label),
                assignee: None,
                contact: Some(contact),
                photos: Vec::new(),
            }),
            _ => Err(errors),
        }
    }
}

/// A contact form's answers, as typed: the residents' own page and the
/// back office's correction ask the same questions.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    /// `sms`, `email` or `none`.
    #[serde(default)]
    pub updates: String,
    /// Present when texts are stopped.
    #[serde(default)]
    pub no_texts: Option<String>,
}

impl ContactForm {
    /// The form filled in with the details as they stand.
    pub(crate) fn from_contact(contact: &Contact) -> Self {
        Self {
            name: contact.name.clone(),
            phone: contact
                .phone
                .as_ref()
                .map_or_else(String::new, |p| p.as_str().to_owned()),
            email: contact
                .email
                .as_ref()
                .map_or_else(String::new, |e| e.as_str().to_owned()),
            updates: match contact.preferred_channel {
                Channel::Sms => "sms",
                Channel::Email => "email",
                Channel::None => "none",
            }
            .to_owned(),
            no_texts: contact.sms_opt_out.then(|| "yes".to_owned()),
        }
    }

    /// The answers, to check.
    pub(crate) fn answers(&self) -> ContactAnswers<'_> {
        ContactAnswers {
            name: &self.name,
            updates: &self.updates,
            phone: &self.phone,
            email: &self.email,
        }
    }
}

/// A resident's contact answers, as typed.
pub(crate) struct ContactAnswers<'a> {
    /// Full name.
    pub name: &'a str,
    /// `sms`, `email` or `none`.
    pub updates: &'a str,
    /// Mobile number.
    pub phone: &'a str,
    /// Email address.
    pub email: &'a str,
}

/// Checks contact answers, adding each problem to `errors`; the contact if
/// they make one.
pub(crate) fn check_contact(
    answers: &ContactAnswers<'_>,
    errors: &mut Vec<FieldError>,
) -> Option<NewContact> {
    let before = errors.len();
    if answers.name.trim().is_empty() {
        errors.push(("name", "Enter your full name".into()));
    }
    let phone = match answers.phone.trim() {
        "" => None,
        typed => match typed.parse::<PhoneNumber>() {
            Ok(phone) => Some(phone),
            Err(_) => {
                errors.push(("phone", "Enter a UK phone number, like 07700 900982".into()));
                None
            }
        },
    };
    let email = match answers.email.trim() {
        "" => None,
        typed => match typed.parse::<EmailAddress>() {
            Ok(email) => Some(email),
            Err(_) => {
                errors.push((
                    "email",
                    "Enter an email address in the correct format, like name@example.com".into(),
                ));
                None
            }
        },
    };
    let preferred = match answers.updates {
        "sms" => {
            if answers.phone.trim().is_empty() {
                errors.push(("phone", "Enter a mobile number for text messages".into()));
            } else if phone.as_ref().is_some_and(|p| !p.is_mobile()) {
                errors.push((
                    "phone",
                    "Enter a mobile number: texts cannot go to a landline".into(),
                ));
            }
            Some(Channel::Sms)
        }
        "email" => {
            if answers.email.trim().is_empty() {
                errors.push(("email", "Enter an email address for updates".into()));
            }
            Some(Channel::Email)
        }
        "none" => Some(Channel::None),
        _ => {
            errors.push(("updates", "Select how you want to hear from us".into()));
            None
        }
    };
    let preferred = preferred?;
    (errors.len() == before).then(|| NewContact {
        name: answers.name.trim().to_owned(),
        phone,
        email,
        preferred,
    })
}

/// The services residents can report, with their categories.
pub(crate) fn reportable(
    services: &ServiceCatalog,
) -> Vec<(&ServiceDefinition, &[ReportCategory])> {
    services
        .iter()
        .filter_map(|service| {
            let report = service.report.as_ref()?;
            Some((service, report.categories.as_slice()))
        })
        .collect()
}

fn field_error(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|(id, _)| *id == field)
        .map(|(_, message)| message.clone())
}

/// How a text input is typed and filled in by browsers.
struct Kind<'a> {
    /// Its `type` (none: text).
    kind: Option<&'a str>,
    /// Its `autocomplete` token.
    autocomplete: &'a str,
    /// Names, postcodes and addresses are not spell-checked.
    spellcheck: bool,
}

const fn kind<'a>(kind: Option<&'a str>, autocomplete: &'a str, spellcheck: bool) -> Kind<'a> {
    Kind {
        kind,
        autocomplete,
        spellcheck,
    }
}

/// A text input with its label, hint and error.
fn input(
    errors: &[FieldError],
    id: &str,
    label: &str,
    hint: Option<&str>,
    value: &str,
    how: Kind<'_>,
) -> Markup {
    let error = field_error(errors, id);
    let mut described = Vec::new();
    if hint.is_some() {
        described.push(format!("{id}-hint"));
    }
    if error.is_some() {
        described.push(format!("{id}-error"));
    }
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        div.govuk-form-group.govuk-form-group--error[error.is_some()] {
            label.govuk-label for=(id) { (label) }
            @if let Some(hint) = hint {
                div.govuk-hint id={ (id) "-hint" } { (hint) }
            }
            @if let Some(message) = &error {
                (error_message(id, message))
            }
            input.govuk-input.govuk-input--error[error.is_some()] id=(id) name=(id) value=(value)
                aria-describedby=[described] type=[how.kind] autocomplete=(how.autocomplete)
                spellcheck=[(!how.spellcheck).then_some("false")];
        }
    }
}

/// A set of radios with a legend (`(value, label)` options).
fn radios(
    errors: &[FieldError],
    name: &str,
    legend: &str,
    options: &[(String, String)],
    chosen: &str,
) -> Markup {
    let error = field_error(errors, name);
    let described = error.as_ref().map(|_| format!("{name}-error"));
    html! {
        div.govuk-form-group.govuk-form-group--error[error.is_some()] {
            fieldset.govuk-fieldset aria-describedby=[described] {
                legend.govuk-fieldset__legend.govuk-fieldset__legend--m { (legend) }
                @if let Some(message) = &error {
                    (error_message(name, message))
                }
                div.govuk-radios {
                @for (index, (value, label)) in options.iter().enumerate() {
                    // The first radio carries the group's id, for the error summary.
                    @let id = if index == 0 { name.to_owned() } else { format!("{name}-{index}") };
                    div.govuk-radios__item {
                        input.govuk-radios__input type="radio" id=(id) name=(name) value=(value) checked[chosen == value];
                        label.govuk-label.govuk-radios__label for=(id) { (label) }
                    }
                }
                }
            }
        }
    }
}

/// A long answer with its label, hint and error.
fn textarea(errors: &[FieldError], id: &str, label: &str, hint: &str, value: &str) -> Markup {
    let error = field_error(errors, id);
    let described = if error.is_some() {
        format!("{id}-hint {id}-error")
    } else {
        format!("{id}-hint")
    };
    html! {
        div.govuk-form-group.govuk-form-group--error[error.is_some()] {
            label.govuk-label for=(id) { (label) }
            div.govuk-hint id={ (id) "-hint" } { (hint) }
            @if let Some(message) = &error {
                (error_message(id, message))
            }
            textarea.govuk-textarea id=(id) name=(id) rows="5" aria-describedby=(described) { (value) }
        }
    }
}

/// The form, with `errors` (and the error summary) if it came back.
pub(crate) fn form_page(
    services: &ServiceCatalog,
    form: &ReportForm,
    errors: &[FieldError],
) -> Markup {
    let options: Vec<(String, String)> = reportable(services)
        .into_iter()
        .flat_map(|(service, categories)| {
            categories.iter().map(move |category| {
                (
                    format!("{}:{}", service.id, category.id),
                    category.label.clone(),
                )
            })
        })
        .collect();
    let photo_error = field_error(errors, "photos");
    let photo_described = if photo_error.is_some() {
        "photos-hint photos-error"
    } else {
        "photos-hint"
    };
    html! {
        (error_summary(errors))
        h1.govuk-heading-l { "Report a repair" }
        p.govuk-body-l {
            "Tell us about a repair needed in your council home. We will text or email you as it goes, with photos of the finished work."
        }
        p.govuk-body { "If there is a risk to anyone's safety, such as a gas smell or exposed wires, call us now instead." }
        form method="post" action="/report" enctype="multipart/form-data" novalidate {
            (radios(errors, "category", "What needs repairing?", &options, &form.category))
            (textarea(errors, "description", "Describe the problem",
                "Where it is, what happens, and since when.", &form.description))
            div.govuk-form-group.govuk-form-group--error[photo_error.is_some()] {
                label.govuk-label for="photos" { "Photos (optional)" }
                div.govuk-hint #photos-hint { "Up to " (MAX_PHOTOS) " photos, JPEG or PNG." }
                @if let Some(message) = &photo_error {
                    (error_message("photos", message))
                }
                input type="file" #photos name="photos" accept="image/jpeg,image/png" multiple
                    aria-describedby=(photo_described);
            }
            h2.govuk-heading-m { "Address of the repair" }
            (input(errors, "street", "House number and street", None, &form.street,
                kind(None, "address-line1", true)))
            (input(errors, "town", "Town or city", None, &form.town,
                kind(None, "address-level2", true)))
            (input(errors, "postcode", "Postcode", None, &form.postcode,
                kind(None, "postal-code", false)))
            (contact_fields(
                &ContactAnswers {
                    name: &form.name,
                    updates: &form.updates,
                    phone: &form.phone,
                    email: &form.email,
                },
                errors,
            ))
            button.govuk-button type="submit" { "Send report" }
        }
    }
}

/// The "your details" questions: name, how to hear from us, mobile, email.
pub(crate) fn contact_fields(answers: &ContactAnswers<'_>, errors: &[FieldError]) -> Markup {
    let updates = [
        ("sms".to_owned(), "Text message".to_owned()),
        ("email".to_owned(), "Email".to_owned()),
        ("none".to_owned(), "Do not send me updates".to_owned()),
    ];
    html! {
        h2.govuk-heading-m { "Your details" }
        (input(errors, "name", "Full name", None, answers.name, kind(None, "name", false)))
        (radios(errors, "updates", "How should we keep you told?", &updates, answers.updates))
        (input(errors, "phone", "Mobile number",
            Some("For text messages, and so the operative can call you."),
            answers.phone, kind(Some("tel"), "tel", true)))
        (input(errors, "email", "Email address", None, answers.email,
            kind(Some("email"), "email", false)))
    }
}

/// What a confirmation page says beyond the reference.
pub(crate) struct Confirmation<'a> {
    /// Its heading ("Repair reported").
    pub title: &'a str,
    /// What happens next, in a sentence or two.
    pub next: &'a str,
    /// The words of the link to the tracking page.
    pub link: &'a str,
}

/// The confirmation: the reference, what happens next, and the link to
/// follow the report.
pub(crate) fn confirmation_page(
    page: &Confirmation<'_>,
    reference: &str,
    track_path: &str,
    told_by: Channel,
) -> Markup {
    let told = match told_by {
        Channel::Sms => "We have sent you a text message with the reference and this link.",
        Channel::Email => "We have sent you an email with the reference and this link.",
        Channel::None => "Keep the reference: you asked us not to send updates.",
    };
    html! {
        div.govuk-panel.govuk-panel--confirmation {
            h1.govuk-panel__title { (page.title) }
            div.govuk-panel__body { "Your reference" br; strong { (reference) } }
        }
        p.govuk-body { (told) }
        h2.govuk-heading-m { "What happens next" }
        p.govuk-body { (page.next) }
        p.govuk-body { a.govuk-link href=(track_path) { (page.link) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> ReportForm {
        ReportForm {
            category: "housing-repair:leak".into(),
            description: "Water coming through the kitchen ceiling".into(),
            street: "12 Station Road".into(),
            town: "Worthing".into(),
            postcode: "bn11 1ha".into(),
            name: "Olu Adeyemi".into(),
            updates: "sms".into(),
            phone: "07700 900222".into(),
            email: String::new(),
        }
    }

    #[test]
    fn a_complete_report_becomes_a_job_with_the_categorys_priority() {
        let services = ServiceCatalog::builtin().unwrap();
        let job = answers().check(&services).unwrap();
        assert_eq!(job.service.as_str(), "housing-repair");
        assert_eq!(job.priority.as_ref().map(|p| p.as_str()), Some("urgent"));
        assert_eq!(job.address, "12 Station Road, Worthing, BN11 1HA");
        assert_eq!(
            job.description,
            "A leak or drip: Water coming through the kitchen ceiling"
        );
        assert_eq!(job.contact.unwrap().preferred, Channel::Sms);
    }

    #[test]
    fn every_problem_is_reported_in_the_order_of_the_form() {
        let services = ServiceCatalog::builtin().unwrap();
        let form = ReportForm {
            category: "housing-repair:volcano".into(),
            postcode: "not a postcode".into(),
            updates: "sms".into(),
            phone: "01903 221000".into(),
            email: "nobody".into(),
            ..ReportForm::default()
        };
        let errors = form.check(&services).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| *field).collect();
        assert_eq!(
            fields,
            [
                "category",
                "description",
                "street",
                "town",
                "postcode",
                "name",
                "phone",
                "email"
            ]
        );
        assert!(errors[6].1.contains("landline"), "{errors:?}");
    }
}
