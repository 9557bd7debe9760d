//! Email over SMTP (`lettre`), for councils that send from their own mail
//! server: a plain-text part and an HTML part in which the job's before and
//! after photos are shown inline (`cid:` parts of a `multipart/related`),
//! since these emails, unlike Notify's, can carry them.

use doorstep_shared::contact::Channel;
use doorstep_shared::notify::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::notify::outbox::{Provider, SendError, SendFuture};
use maud::{DOCTYPE, html};

/// Sends emails through an SMTP server.
pub struct SmtpEmail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The SMTP settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    /// The server's URL.
    #[error("the SMTP URL is not valid (smtp://, smtps:// or smtp://…?tls=required)")]
    Url(#[source] lettre::transport::smtp::Error),
    /// The sender's address.
    #[error("the sender address {0:?} is not valid")]
    From(String),
}

impl SmtpEmail {
    /// A provider sending through the server at `url` (`smtps://user:pass@host`,
    /// `smtp://host:587?tls=required`, or plain `smtp://host:port` on a
    /// trusted network) as `from`.
    pub fn new(url: &str, from: &str) -> Result<Self, SmtpSetupError> {
        Ok(Self {
            transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(SmtpSetupError::Url)?
                .build(),
            from: from
                .parse()
                .map_err(|_| SmtpSetupError::From(from.to_owned()))?,
        })
    }
}

/// The email: text, and HTML with the photos inline.
fn email(from: &Mailbox, message: &Message, reference: &str) -> Result<lettre::Message, SendError> {
    let to: Mailbox = message
        .to
        .parse()
        .map_err(|_| SendError::Permanent(format!("{:?} is not an email address", message.to)))?;
    let html = html! {
        (DOCTYPE)
        html {
            body style="font-family: sans-serif" {
                p {
                    @for (n, line) in message.body.split('\n').enumerate() {
                        @if n > 0 { br; }
                        (line)
                    }
                }
                @for (n, photo) in message.photos.iter().enumerate() {
                    figure {
                        img src={ "cid:photo-" (n) } alt={ (photo.label) " photo" } width="480";
                        figcaption { (photo.label) }
                    }
                }
            }
        }
    };
    let mut related = MultiPart::related().singlepart(SinglePart::html(html.into_string()));
    for (n, photo) in message.photos.iter().enumerate() {
        related = related.singlepart(
            Attachment::new_inline(format!("photo-{n}")).body(
                photo.jpeg.clone(),
                ContentType::parse("image/jpeg")
                    .map_err(|e| SendError::Permanent(format!("bad content type: {e}")))?,
            ),
        );
    }
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone().unwrap_or_default())
        .message_id(Some(format!(
            "<doorstep-{reference}@{}>",
            from.email.domain()
        )))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(message.body.clone()))
                .multipart(related),
        )
        .map_err(|error| SendError::Permanent(format!("the email could not be built: {error}")))
}

impl Provider for SmtpEmail {
    fn send<'a>(&'a self, message: &'a Message, reference: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            if message.channel != Channel::Email {
                return Err(SendError::Permanent("SMTP sends emails only".into()));
            }
            let email = email(&self.from, message, reference)?;
            match self.transport.send(email).await {
                Ok(response) => Ok(response
                    .first_line()
                    .map_or_else(|| format!("smtp-{reference}"), str::to_owned)),
                Err(error) if error.is_permanent() => Err(SendError::Permanent(error.to_string())),
                Err(error) => Err(SendError::Temporary(error.to_string())),
            }
        })
    }
}
