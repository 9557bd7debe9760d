//! The page layout, GOV.UK Design System's page template built from
//! govuk-frontend's own components: a skip link, a generic header in the
//! council's colour with its name (and logo), the service navigation with
//! the service's name, one main column, a footer; no crown and no GDS
//! Transport font. Pages are plain HTML that work with JavaScript off;
//! govuk-frontend's stylesheet (pinned in `assets/govuk/`) and
//! `assets/styles/doorstep.css` (served at [`STYLESHEET_PATH`]) style them. A council's name comes from its
//! tenant record and its colour from `--brand-colour`, which must keep
//! white header text readable (WCAG AA, 4.5:1).

use std::fmt;
use std::str::FromStr;

use maud::{DOCTYPE, Markup, html};

/// Where Doorstep's own stylesheet is served (its components that GOV.UK
/// has none of: the council's header colour, the timeline, the board).
pub(crate) const STYLESHEET_PATH: &str = "/assets/doorstep.css";

/// Doorstep's own stylesheet, built into the binary.
pub(crate) const STYLESHEET: &str = include_str!("../../../assets/styles/doorstep.css");

/// Where the pinned govuk-frontend stylesheet is served.
pub(crate) const GOVUK_STYLESHEET_PATH: &str = "/assets/govuk-frontend-6.6.0.min.css";

/// govuk-frontend's stylesheet (see `assets/govuk/NOTICE.md`), built in.
pub(crate) const GOVUK_STYLESHEET: &str =
    include_str!("../../../assets/govuk/govuk-frontend.min.css");

/// A council's header colour, `#rrggbb`, dark enough for white text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandColour(String);

impl Default for BrandColour {
    fn default() -> Self {
        Self("#1d70b8".into())
    }
}

/// A brand colour that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrandColourError {
    /// Not `#rrggbb`.
    #[error("{0:?} is not a colour: write it as #rrggbb, such as #1d70b8")]
    Malformed(String),
    /// Too light for white text.
    #[error(
        "{colour} is too light for the white header text (contrast {ratio:.2}:1; at least 4.5:1 is needed): choose a darker shade"
    )]
    TooLight {
        /// The colour.
        colour: String,
        /// Its contrast with white.
        ratio: f64,
    },
}

impl FromStr for BrandColour {
    type Err = BrandColourError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || BrandColourError::Malformed(text.to_owned());
        let hex = text.trim().strip_prefix('#').ok_or_else(malformed)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed());
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| malformed());
        let (r, g, b) = (channel(0)?, channel(2)?, channel(4)?);
        // WCAG 2 relative luminance; white's is 1.
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
        let ratio = 1.05 / (luminance + 0.05);
        let colour = format!("#{}", hex.to_ascii_lowercase());
        if ratio < 4.5 {
            return Err(BrandColourError::TooLight { colour, ratio });
        }
        Ok(Self(colour))
    }
}

impl fmt::Display for BrandColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a council's logo is served.
pub(crate) const LOGO_PATH: &str = "/assets/council-logo";

/// The largest logo file taken.
const MAX_LOGO_BYTES: usize = 512 * 1024;

/// How a council's pages look: its colour and, if it gave one, its logo.
#[derive(Debug, Clone, Default)]
pub struct Branding {
    /// The header's colour.
    pub colour: BrandColour,
    /// The logo shown before the council's name.
    pub logo: Option<Logo>,
}

/// A council's logo: a PNG, JPEG or SVG file read at start.
#[derive(Clone)]
pub struct Logo {
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: std::sync::Arc<[u8]>,
}

impl fmt::Debug for Logo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Logo({}, {} bytes)", self.content_type, self.bytes.len())
    }
}

/// A logo file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LogoError {
    /// It could not be read.
    #[error("could not read the logo {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not an image this server serves as a logo.
    #[error("the logo {0} is not a PNG, JPEG or SVG file")]
    Kind(String),
    /// Too big for a page header.
    #[error("the logo {path} is {bytes} bytes; the limit is {MAX_LOGO_BYTES}")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        bytes: usize,
    },
}

impl Logo {
    /// Reads a logo file, checking its kind by its first bytes.
    pub fn read(path: &std::path::Path) -> Result<Logo, LogoError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LogoError::Read {
            path: shown.clone(),
            source,
        })?;
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(LogoError::TooLarge {
                path: shown,
                bytes: bytes.len(),
            });
        }
        let start = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_lowercase();
        let content_type = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            "image/png"
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            "image/jpeg"
        } else if start.contains("<svg") {
            "image/svg+xml"
        } else {
            return Err(LogoError::Kind(shown));
        };
        Ok(Logo {
            content_type,
            bytes: bytes.into(),
        })
    }
}

/// One resident page.
pub(crate) struct Page<'a> {
    /// The council's name.
    pub council: &'a str,
    /// The service's name in the header ("Report a repair").
    pub service: &'a str,
    /// The page's own title (its `h1`, usually).
    pub title: &'a str,
    /// The form on the page has errors: the title says so first.
    pub has_errors: bool,
    /// A back-office page (its footer speaks to staff, not residents).
    pub staff: bool,
    /// The main column.
    pub main: Markup,
}

impl Page<'_> {
    /// The whole document.
    pub(crate) fn render(&self, branding: &Branding) -> Markup {
        let title = format!(
            "{}{} – {} – {}",
            if self.has_errors { "Error: " } else { "" },
            self.title,
            self.service,
            self.council
        );
        html! {
            (DOCTYPE)
            html.govuk-template lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) }
                    meta name="robots" content="noindex, nofollow";
                    link rel="stylesheet" href=(GOVUK_STYLESHEET_PATH);
                    link rel="stylesheet" href=(STYLESHEET_PATH);
                    style { ":root { --brand: " (branding.colour) "; }" }
                }
                body.govuk-template__body {
                    a.govuk-skip-link href="#main-content" { "Skip to main content" }
                    header.govuk-template__header {
                        div.govuk-generic-header.doorstep-header {
                            div.govuk-generic-header__container.govuk-width-container {
                                div.govuk-generic-header__logo {
                                    span.doorstep-header__council {
                                        @if branding.logo.is_some() {
                                            img.doorstep-header__logo src=(LOGO_PATH) alt="" height="40";
                                        }
                                        (self.council)
                                    }
                                }
                            }
                        }
                        div.govuk-service-navigation {
                            div.govuk-width-container {
                                div.govuk-service-navigation__container {
                                    span.govuk-service-navigation__service-name {
                                        span.govuk-service-navigation__text { (self.service) }
                                    }
                                }
                            }
                        }
                    }
                    div.govuk-width-container {
                        main.govuk-main-wrapper #main-content { (self.main) }
                    }
                    footer.govuk-footer {
                        div.govuk-width-container {
                            div.govuk-footer__meta {
                                div.govuk-footer__meta-item.govuk-footer__meta-item--grow {
                                    p.govuk-body-s {
                                        @if self.staff {
                                            (self.council) ": Doorstep back office. Residents' details here are for the council's work only; they are deleted after a job closes."
                                        } @else {
                                            (self.council) ". Your details are used only to keep you told about this request, and are deleted after it closes."
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A GOV.UK summary list: a key and its value per row.
pub(crate) fn summary_list(rows: &[(&str, Markup)]) -> Markup {
    html! {
        dl.govuk-summary-list {
            @for (key, value) in rows {
                div.govuk-summary-list__row {
                    dt.govuk-summary-list__key { (key) }
                    dd.govuk-summary-list__value { (value) }
                }
            }
        }
    }
}

/// A GOV.UK error message above the field `field` in error: its id is
/// `{field}-error`, for the field's `aria-describedby`.
pub(crate) fn error_message(field: &str, message: &str) -> Markup {
    html! {
        p.govuk-error-message id={ (field) "-error" } {
            span.govuk-visually-hidden { "Error:" } " " (message)
        }
    }
}

/// A GOV.UK table's caption (read by screen readers, not shown) and its
/// column headings; the rows follow in the table's `tbody`.
pub(crate) fn table_head(caption: &str, headings: &[&str]) -> Markup {
    html! {
        caption.govuk-table__caption.govuk-visually-hidden { (caption) }
        thead.govuk-table__head {
            tr.govuk-table__row {
                @for heading in headings {
                    th.govuk-table__header scope="col" { (heading) }
                }
            }
        }
    }
}

/// A GOV.UK error summary linking to each field in error (`(field id,
/// message)`).
pub(crate) fn error_summary(errors: &[(&str, String)]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.govuk-error-summary tabindex="-1" {
                div role="alert" {
                    h2.govuk-error-summary__title { "There is a problem" }
                    div.govuk-error-summary__body {
                        ul.govuk-list.govuk-error-summary__list {
                            @for (field, message) in errors {
                                li { a href={ "#" (field) } { (message) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brand_colour_must_keep_white_text_readable() {
        assert_eq!(
            "#1D70B8".parse::<BrandColour>().unwrap().to_string(),
            "#1d70b8"
        );
        assert!(matches!(
            "#ffdd00".parse::<BrandColour>(),
            Err(BrandColourError::TooLight { .. })
        ));
        assert!(matches!(
            "blue".parse::<BrandColour>(),
            Err(BrandColourError::Malformed(_))
        ));
        assert!("#00703c".parse::<BrandColour>().is_ok());
    }

    #[test]
    fn a_logo_is_a_png_jpeg_or_svg_file_of_modest_size() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let svg = write(
            "logo.svg",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        );
        assert_eq!(Logo::read(&svg).unwrap().content_type, "image/svg+xml");
        let png = write("logo.png", b"\x89PNG\r\n\x1a\n rest");
        assert_eq!(Logo::read(&png).unwrap().content_type, "image/png");
        let text = write("logo.txt", b"not an image");
        assert!(matches!(Logo::read(&text), Err(LogoError::Kind(_))));
        let huge = write("huge.png", &[0x89; MAX_LOGO_BYTES + 1]);
        assert!(matches!(Logo::read(&huge), Err(LogoError::TooLarge { .. })));
        let page = Page {
            council: "Adur",
            service: "Report a repair",
            title: "Report a repair",
            has_errors: false,
            staff: false,
            main: Markup::default(),
        }
        .render(&Branding {
            colour: BrandColour::default(),
            logo: Some(Logo::read(&svg).unwrap()),
        })
        .into_string();
        assert!(
            page.contains(
                "<img class=\"doorstep-header__logo\" src=\"/assets/council-logo\" alt=\"\""
            ),
            "{page}"
        );
    }

    #[test]
    fn page_text_is_escaped_and_errors_lead_the_title() {
        let page = Page {
            council: "Adur & Worthing",
            service: "Track your repair",
            title: "<HR-1>",
            has_errors: true,
            staff: false,
            main: Markup::default(),
        }
        .render(&Branding::default())
        .into_string();
        assert!(page.contains(
            "<title>Error: &lt;HR-1&gt; – Track your repair – Adur &amp; Worthing</title>"
        ));
        assert!(page.contains("<html class=\"govuk-template\" lang=\"en\">"));
    }
}
