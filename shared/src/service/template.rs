//! Message templates with `((placeholders))`, written the way GOV.UK Notify
//! templates are, so councils can paste texts between the two.

use std::collections::BTreeMap;

/// The placeholders a notification may use.
pub const PLACEHOLDERS: &[&str] = &[
    "name",
    "reference",
    "service",
    "address",
    "appointment_date",
    "appointment_time",
    "status",
    "reason",
    "track_url",
    "photos_url",
    "rebook_url",
    "council",
];

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
}

/// A template could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `((` with no `))` after it.
    #[error("a placeholder opened with (( is never closed with ))")]
    Unclosed {
        /// Byte offset of the `((` in the text.
        offset: usize,
    },
    /// A placeholder that is not in [`PLACEHOLDERS`].
    #[error("unknown placeholder (({name})); the placeholders are {}", PLACEHOLDERS.join(", "))]
    Unknown {
        /// The name used.
        name: String,
        /// Byte offset of the `((` in the text.
        offset: usize,
    },
    /// Rendering was not given a value the template uses.
    #[error("no value for (({name}))")]
    Missing {
        /// The placeholder without a value.
        name: String,
    },
}

impl TemplateError {
    /// Byte offset of the problem in the template text, if it has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            TemplateError::Unclosed { offset } | TemplateError::Unknown { offset, .. } => {
                Some(*offset)
            }
            TemplateError::Missing { .. } => None,
        }
    }
}

/// Text and placeholders in order: `Ok(text)` or `Err(placeholder)`.
fn pieces(text: &str) -> impl Iterator<Item = Result<(usize, &str), (usize, Option<&str>)>> {
    let mut rest = 0;
    std::iter::from_fn(move || {
        if rest >= text.len() {
            return None;
        }
        let tail = &text[rest..];
        match tail.find("((") {
            Some(0) => {
                let start = rest;
                match tail[2..].find("))") {
                    Some(end) => {
                        rest += end + 4;
                        Some(Err((start, Some(tail[2..2 + end].trim()))))
                    }
                    None => {
                        rest = text.len();
                        Some(Err((start, None)))
                    }
                }
            }
            Some(at) => {
                rest += at;
                Some(Ok((rest - at, &tail[..at])))
            }
            None => {
                rest = text.len();
                Some(Ok((rest - tail.len(), tail)))
            }
        }
    })
}

impl Template {
    /// Checks a template's placeholders.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        for piece in pieces(text) {
            match piece {
                Ok(_) => {}
                Err((offset, None)) => return Err(TemplateError::Unclosed { offset }),
                Err((offset, Some(name))) if !PLACEHOLDERS.contains(&name) => {
                    return Err(TemplateError::Unknown {
                        name: name.to_owned(),
                        offset,
                    });
                }
                Err(_) => {}
            }
        }
        Ok(Self {
            text: text.to_owned(),
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The placeholders used, in order of first use.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut names = Vec::new();
        for piece in pieces(&self.text) {
            if let Err((_, Some(name))) = piece
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        names
    }

    /// Fills in the placeholders.
    pub fn render(&self, values: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.text.len());
        for piece in pieces(&self.text) {
            match piece {
                Ok((_, text)) => out.push_str(text),
                Err((_, Some(name))) => match values.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        return Err(TemplateError::Missing {
                            name: name.to_owned(),
                        });
                    }
                },
                Err((offset, None)) => return Err(TemplateError::Unclosed { offset }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in() {
        let template = Template::parse("Hello ((name)), job ((reference)) is booked.").unwrap();
        assert_eq!(template.placeholders(), ["name", "reference"]);
        let values = BTreeMap::from([("name", "Sam".to_owned()), ("reference", "HR-1".to_owned())]);
        assert_eq!(
            template.render(&values).unwrap(),
            "Hello Sam, job HR-1 is booked."
        );
        let missing = template.render(&BTreeMap::new()).unwrap_err();
        assert_eq!(
            missing,
            TemplateError::Missing {
                name: "name".into()
            }
        );
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_refused_with_their_offset() {
        assert_eq!(
            Template::parse("Hi ((nmae))").unwrap_err(),
            TemplateError::Unknown {
                name: "nmae".into(),
                offset: 3
            }
        );
        assert_eq!(
            Template::parse("Hi ((name").unwrap_err(),
            TemplateError::Unclosed { offset: 3 }
        );
    }
}
