//! `<samlp:LogoutResponse>` (SAML Core 3.7.2) for the HTTP-Redirect binding: the query
//! string to send the browser back to the service provider with, signed.

use std::io::Cursor;

use quick_xml::Writer;
use time::OffsetDateTime;

use super::bindings::redirect_query;
use super::keys::{KeyError, SigningKey};
use super::response::{Status, StatusResponse, new_id, write_status};

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
    let mut w = Writer::new(Cursor::new(Vec::new()));
    let header = StatusResponse {
        id: &id,
        issued: now,
        issuer: answer.issuer,
        destination: answer.destination,
        in_response_to: answer.in_response_to,
    };
    header
        .write(&mut w, "samlp:LogoutResponse", |w| {
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
