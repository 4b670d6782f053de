//! `<samlp:LogoutResponse>` (SAML Core 3.7.2) for the HTTP-Redirect binding: the query
//! string to send the browser back to the service provider with, signed.

use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::BytesText;
use time::OffsetDateTime;

use super::bindings::redirect_query;
use super::keys::{KeyError, SigningKey};
use super::ns;
use super::response::{Status, instant, new_id, write_status};

/// What the logout response answers.
#[derive(Debug, Clone)]
pub struct LogoutAnswer<'a> {
    /// The identity provider's entity ID.
    pub issuer: &'a str,
    /// Where it goes (the service provider's `ResponseLocation`).
    pub destination: &'a str,
    /// The request's ID.
    pub in_response_to: &'a str,
    /// `None`: success.
    pub status: Option<&'a Status>,
    /// The request's `RelayState`, echoed.
    pub relay_state: Option<&'a str>,
}

/// The URL to redirect the browser to: `destination` with the signed response in its
/// query (Bindings 3.4.4.1).
pub fn logout_response_url(
    answer: &LogoutAnswer<'_>,
    key: &SigningKey,
    now: OffsetDateTime,
) -> Result<String, KeyError> {
    let id = new_id();
    let issued = instant(now);
    let mut w = Writer::new(Cursor::new(Vec::new()));
    w.create_element("samlp:LogoutResponse")
        .with_attributes([
            ("xmlns:samlp", ns::PROTOCOL),
            ("xmlns:saml", ns::ASSERTION),
            ("ID", id.as_str()),
            ("Version", "2.0"),
            ("IssueInstant", issued.as_str()),
            ("Destination", answer.destination),
            ("InResponseTo", answer.in_response_to),
        ])
        .write_inner_content(|w| {
            w.create_element("saml:Issuer")
                .with_attribute(("Format", ns::ENTITY))
                .write_text_content(BytesText::new(answer.issuer))?;
            write_status(w, answer.status)
        })
        .map_err(|source| KeyError::Io {
            path: "LogoutResponse".to_owned(),
            source,
        })?;
    let xml = String::from_utf8_lossy(&w.into_inner().into_inner()).into_owned();
    let query = redirect_query(
        "SAMLResponse",
        &xml,
        answer.relay_state,
        key.kind(),
        |data| key.sign(data),
    )?;
    let separator = if answer.destination.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(format!("{}{separator}{query}", answer.destination))
}
