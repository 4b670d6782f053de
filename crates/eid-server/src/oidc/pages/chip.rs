//! The chip check's upload ticket page.

use axum::http::StatusCode;
use axum::response::Response;

use super::super::lang::Lang;
use super::{Script, escape, page, texts};

/// What the ticket page shows.
pub struct ChipTicketPage<'a> {
    pub lang: Lang,
    /// The single-use upload ticket (the app's bearer token).
    pub ticket: &'a str,
    /// The nonce the face vendor's result must carry.
    pub nonce: &'a str,
    /// Where the app uploads.
    pub upload_url: &'a str,
    /// How long the ticket stays valid, in minutes.
    pub minutes: u64,
}

/// The upload ticket page.
pub fn chip_ticket(p: &ChipTicketPage<'_>) -> Response {
    let t = texts(p.lang);
    let body = format!(
        "<p>{intro}</p><dl class=\"chip-ticket\">\
         <dt>{code_label}</dt><dd><code id=\"chip-ticket\">{ticket}</code></dd>\
         <dt>{nonce_label}</dt><dd><code id=\"chip-nonce\">{nonce}</code></dd>\
         <dt>{url_label}</dt><dd><code id=\"chip-upload\">{url}</code></dd>\
         <dt>{minutes_label}</dt><dd>{minutes}</dd></dl>\
         <p><a href=\"/account\">{back}</a></p>",
        intro = t.chip_ticket_intro,
        code_label = t.chip_ticket_code,
        ticket = escape(p.ticket),
        nonce_label = t.chip_nonce,
        nonce = escape(p.nonce),
        url_label = t.chip_upload_url,
        url = escape(p.upload_url),
        minutes_label = t.chip_valid_minutes,
        minutes = p.minutes,
        back = t.chip_back,
    );
    page(
        StatusCode::OK,
        p.lang,
        t.chip_ticket_title,
        &body,
        &[],
        Script::None,
    )
}
