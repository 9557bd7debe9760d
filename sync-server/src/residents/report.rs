//! "Report a repair": the resident's form, its checks and its pages. The
//! form offers the categories of every service whose definition has a
//! `[report]` section; a report becomes a job (through [`crate::intake`])
//! with the category's priority, the resident's words as its notes, their
//! photos filed under the service's report photo kind, and their contact
//! details in the contact document. Errors come back on the same page with
//! an error summary, every answer kept but the photos (a browser cannot be
//! given files back).

use doorstep_shared::contact::{Channel, EmailAddress, PhoneNumber};
use doorstep_shared::ids::ServiceId;
use doorstep_shared::job::looks_like_postcode;
use doorstep_shared::service::{ReportCategory, ServiceCatalog, ServiceDefinition};

use crate::intake::{NewContact, NewJob};
use crate::pages::html::escape;
use crate::pages::layout::error_summary;

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

/// A text input with its label, hint and error.
fn input(
    errors: &[FieldError],
    id: &str,
    label: &str,
    hint: Option<&str>,
    value: &str,
    attributes: &str,
) -> String {
    let error = field_error(errors, id);
    let mut described = Vec::new();
    let mut html = format!(
        "<div class=\"form-group{}\">\n<label class=\"label\" for=\"{id}\">{}</label>\n",
        if error.is_some() {
            " form-group--error"
        } else {
            ""
        },
        escape(label)
    );
    if let Some(hint) = hint {
        described.push(format!("{id}-hint"));
        html.push_str(&format!(
            "<span class=\"hint\" id=\"{id}-hint\">{}</span>\n",
            escape(hint)
        ));
    }
    if let Some(error) = &error {
        described.push(format!("{id}-error"));
        html.push_str(&format!(
            "<span class=\"error-message\" id=\"{id}-error\"><span class=\"visually-hidden\">Error:</span> {}</span>\n",
            escape(error)
        ));
    }
    let described = if described.is_empty() {
        String::new()
    } else {
        format!(" aria-describedby=\"{}\"", described.join(" "))
    };
    html.push_str(&format!(
        "<input class=\"input{}\" id=\"{id}\" name=\"{id}\" value=\"{}\"{described} {attributes}>\n</div>\n",
        if error.is_some() { " input--error" } else { "" },
        escape(value),
    ));
    html
}

/// A set of radios with a legend (`(value, label)` options).
fn radios(
    errors: &[FieldError],
    name: &str,
    legend: &str,
    options: &[(String, String)],
    chosen: &str,
) -> String {
    let error = field_error(errors, name);
    let mut html = format!(
        "<div class=\"form-group{}\">\n<fieldset{}>\n<legend>{}</legend>\n",
        if error.is_some() {
            " form-group--error"
        } else {
            ""
        },
        if error.is_some() {
            format!(" aria-describedby=\"{name}-error\"")
        } else {
            String::new()
        },
        escape(legend)
    );
    if let Some(error) = &error {
        html.push_str(&format!(
            "<span class=\"error-message\" id=\"{name}-error\"><span class=\"visually-hidden\">Error:</span> {}</span>\n",
            escape(error)
        ));
    }
    for (index, (value, label)) in options.iter().enumerate() {
        // The first radio carries the group's id, for the error summary.
        let id = if index == 0 {
            name.to_owned()
        } else {
            format!("{name}-{index}")
        };
        html.push_str(&format!(
            "<div class=\"radios__item\"><input type=\"radio\" id=\"{id}\" name=\"{name}\" value=\"{value}\"{checked}><label for=\"{id}\">{label}</label></div>\n",
            value = escape(value),
            label = escape(label),
            checked = if chosen == value { " checked" } else { "" },
        ));
    }
    html.push_str("</fieldset>\n</div>\n");
    html
}

/// The form, with `errors` (and the error summary) if it came back.
pub(crate) fn form_page(
    services: &ServiceCatalog,
    form: &ReportForm,
    errors: &[FieldError],
) -> String {
    let mut html = error_summary(errors).into_string();
    html.push_str("<h1>Report a repair</h1>\n<p class=\"lead\">Tell us about a repair needed in your council home. We will text or email you as it goes, with photos of the finished work.</p>\n<p>If there is a risk to anyone's safety, such as a gas smell or exposed wires, call us now instead.</p>\n");
    html.push_str(
        "<form method=\"post\" action=\"/report\" enctype=\"multipart/form-data\" novalidate>\n",
    );
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
    html.push_str(&radios(
        errors,
        "category",
        "What needs repairing?",
        &options,
        &form.category,
    ));
    let description_error = field_error(errors, "description");
    html.push_str(&format!(
        "<div class=\"form-group{group}\">\n<label class=\"label\" for=\"description\">Describe the problem</label>\n<span class=\"hint\" id=\"description-hint\">Where it is, what happens, and since when.</span>\n{error}<textarea id=\"description\" name=\"description\" rows=\"5\" aria-describedby=\"description-hint{described}\">{value}</textarea>\n</div>\n",
        group = if description_error.is_some() { " form-group--error" } else { "" },
        error = description_error
            .as_ref()
            .map(|message| format!(
                "<span class=\"error-message\" id=\"description-error\"><span class=\"visually-hidden\">Error:</span> {}</span>\n",
                escape(message)
            ))
            .unwrap_or_default(),
        described = if description_error.is_some() { " description-error" } else { "" },
        value = escape(&form.description),
    ));
    let photo_error = field_error(errors, "photos");
    html.push_str(&format!(
        "<div class=\"form-group{group}\">\n<label class=\"label\" for=\"photos\">Photos (optional)</label>\n<span class=\"hint\" id=\"photos-hint\">Up to {MAX_PHOTOS} photos, JPEG or PNG.</span>\n{error}<input type=\"file\" id=\"photos\" name=\"photos\" accept=\"image/jpeg,image/png\" multiple aria-describedby=\"photos-hint{described}\">\n</div>\n",
        group = if photo_error.is_some() { " form-group--error" } else { "" },
        error = photo_error
            .as_ref()
            .map(|message| format!(
                "<span class=\"error-message\" id=\"photos-error\"><span class=\"visually-hidden\">Error:</span> {}</span>\n",
                escape(message)
            ))
            .unwrap_or_default(),
        described = if photo_error.is_some() { " photos-error" } else { "" },
    ));
    html.push_str("<h2>Address of the repair</h2>\n");
    html.push_str(&input(
        errors,
        "street",
        "House number and street",
        None,
        &form.street,
        "autocomplete=\"address-line1\"",
    ));
    html.push_str(&input(
        errors,
        "town",
        "Town or city",
        None,
        &form.town,
        "autocomplete=\"address-level2\"",
    ));
    html.push_str(&input(
        errors,
        "postcode",
        "Postcode",
        None,
        &form.postcode,
        "autocomplete=\"postal-code\" spellcheck=\"false\"",
    ));
    html.push_str(&contact_fields(
        &ContactAnswers {
            name: &form.name,
            updates: &form.updates,
            phone: &form.phone,
            email: &form.email,
        },
        errors,
    ));
    html.push_str("<button type=\"submit\" class=\"button\">Send report</button>\n</form>\n");
    html
}

/// The "your details" questions: name, how to hear from us, mobile, email.
pub(crate) fn contact_fields(answers: &ContactAnswers<'_>, errors: &[FieldError]) -> String {
    let mut html = String::new();
    html.push_str("<h2>Your details</h2>\n");
    html.push_str(&input(
        errors,
        "name",
        "Full name",
        None,
        answers.name,
        "autocomplete=\"name\" spellcheck=\"false\"",
    ));
    html.push_str(&radios(
        errors,
        "updates",
        "How should we keep you told?",
        &[
            ("sms".into(), "Text message".into()),
            ("email".into(), "Email".into()),
            ("none".into(), "Do not send me updates".into()),
        ],
        answers.updates,
    ));
    html.push_str(&input(
        errors,
        "phone",
        "Mobile number",
        Some("For text messages, and so the operative can call you."),
        answers.phone,
        "type=\"tel\" autocomplete=\"tel\"",
    ));
    html.push_str(&input(
        errors,
        "email",
        "Email address",
        None,
        answers.email,
        "type=\"email\" autocomplete=\"email\" spellcheck=\"false\"",
    ));
    html
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
) -> String {
    let told = match told_by {
        Channel::Sms => "We have sent you a text message with the reference and this link.",
        Channel::Email => "We have sent you an email with the reference and this link.",
        Channel::None => "Keep the reference: you asked us not to send updates.",
    };
    format!(
        "<div class=\"panel\">\n<h1>{title}</h1>\n<div class=\"panel__body\">Your reference<br><strong>{reference}</strong></div>\n</div>\n<p>{told}</p>\n<h2>What happens next</h2>\n<p>{next}</p>\n<p><a href=\"{track_path}\">{link}</a></p>\n",
        title = escape(page.title),
        next = escape(page.next),
        link = escape(page.link),
        reference = escape(reference),
        track_path = escape(track_path),
    )
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
