//! The citizen's account page: the passkeys (add, rename, delete) and recent activity.

use axum::http::StatusCode;
use axum::response::Response;

use super::super::lang::Lang;
use super::{Script, escape, page, script_status, texts};

/// One passkey as listed.
pub struct PasskeyRow {
    /// Its record id (for the rename and delete forms).
    pub id: String,
    /// The citizen's name for it.
    pub label: String,
    /// When it was added (a date).
    pub added: String,
    /// When it was last used (a date and time), if ever.
    pub last_used: Option<String>,
}

/// One entry of the recent activity.
pub struct Activity {
    /// When (a date and time).
    pub at: String,
    /// The audit event name (`authentication`, `credential_added`, …).
    pub event: &'static str,
    /// Whether it failed or was refused.
    pub failed: bool,
    /// The relying party involved (its display name), if any.
    pub client: Option<String>,
}

/// What the account page shows.
pub struct AccountPage<'a> {
    pub lang: Lang,
    /// The CSRF token of the page's forms.
    pub csrf: &'a str,
    /// The masked personal ID number.
    pub masked_id: &'a str,
    /// The session's level (`None`: identity not proofed).
    pub level: Option<&'a str>,
    pub passkeys: &'a [PasskeyRow],
    pub activity: &'a [Activity],
    /// What to tell the citizen first, and whether it is a problem.
    pub notice: Option<(&'a str, bool)>,
    /// Offer to sign in again (the sign-in is too old to change passkeys).
    pub reauth: bool,
    /// Whether the chip check (level high) is offered.
    pub chip: bool,
}

/// The account page.
pub fn account(p: &AccountPage<'_>) -> Response {
    let t = texts(p.lang);
    let notice = p
        .notice
        .map(|(text, problem)| {
            let class = if problem { "error" } else { "notice" };
            format!("<p class=\"{class}\" role=\"status\">{}</p>", escape(text))
        })
        .unwrap_or_default();
    let notice = if p.reauth {
        format!(
            "{notice}<p><a id=\"reauth\" href=\"/account?login\">{}</a></p>",
            t.sign_in_again
        )
    } else {
        notice
    };
    let level = p.level.unwrap_or(t.account_unproofed);
    let csrf = escape(p.csrf);
    let rows: String = p
        .passkeys
        .iter()
        .map(|k| {
            format!(
                "<li class=\"passkey\" data-passkey-id=\"{id}\"><div class=\"passkey-name\">{label}</div>\
                 <div class=\"meta\">{added_on}: {added} · {last_used}: {used}</div>\
                 <form method=\"post\" action=\"/account/passkeys/rename\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <input name=\"label\" value=\"{label}\" maxlength=\"100\" required aria-label=\"{rename}\">\
                 <button type=\"submit\" class=\"secondary\">{rename}</button></form>\
                 <form method=\"post\" action=\"/account/passkeys/delete\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" class=\"danger\">{delete}</button></form></li>",
                id = escape(&k.id),
                label = escape(&k.label),
                added_on = t.added_on,
                added = escape(&k.added),
                last_used = t.last_used,
                used = escape(k.last_used.as_deref().unwrap_or(t.never_used)),
                rename = t.rename,
                delete = t.delete,
            )
        })
        .collect();
    let list = if rows.is_empty() {
        format!("<p id=\"no-passkeys\">{}</p>", t.no_passkeys)
    } else {
        format!("<ul id=\"passkeys\">{rows}</ul>")
    };
    let activity: String = p
        .activity
        .iter()
        .map(|a| {
            let name = t
                .events
                .iter()
                .find(|(event, _)| *event == a.event)
                .map_or(a.event, |(_, text)| *text);
            let failed = if a.failed {
                format!(" <span class=\"error\">({})</span>", t.failed)
            } else {
                String::new()
            };
            let client = a
                .client
                .as_deref()
                .map(|c| format!(" · {}", escape(c)))
                .unwrap_or_default();
            format!(
                "<tr><td>{at}</td><td>{name}{client}{failed}</td></tr>",
                at = escape(&a.at),
            )
        })
        .collect();
    let body = format!(
        "{notice}<p class=\"who\"><strong>{masked}</strong><br>{level_label}: {level}</p>\
         <h2>{passkeys_title}</h2><p class=\"hint\">{passkeys_intro}</p>{list}\
         <form id=\"passkey-enrol\" method=\"post\" action=\"/account/passkeys\" \
         data-options=\"/account/passkeys/options\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"ceremony\"><input type=\"hidden\" name=\"credential\">\
         <label for=\"passkey-label\">{label_label}</label>\
         <input id=\"passkey-label\" name=\"label\" maxlength=\"100\" placeholder=\"{placeholder}\">\
         <button type=\"button\" id=\"passkey-add\">{add}</button></form>{status}\
         {chip}<h2>{activity_title}</h2><table class=\"activity\">{activity}</table>\
         <p><a href=\"/logout\">{sign_out}</a></p>",
        masked = escape(p.masked_id),
        level_label = t.account_level,
        level = escape(level),
        passkeys_title = t.passkeys_title,
        passkeys_intro = t.passkeys_intro,
        label_label = t.passkey_label,
        placeholder = t.passkey_label_placeholder,
        add = t.add_passkey,
        status = script_status(p.lang),
        chip = chip_section(p.lang, &csrf, p.chip),
        activity_title = t.activity_title,
        sign_out = t.sign_out,
    );
    page(
        StatusCode::OK,
        p.lang,
        t.account_title,
        &body,
        &[],
        Script::Passkeys,
    )
}

/// The chip check section: its form, or that the service does not offer it.
fn chip_section(lang: Lang, csrf: &str, offered: bool) -> String {
    let t = texts(lang);
    let action = if offered {
        format!(
            "<form id=\"chip-start\" method=\"post\" action=\"/account/chip\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\">{}</button></form>",
            t.chip_start
        )
    } else {
        format!("<p id=\"chip-disabled\">{}</p>", t.chip_disabled)
    };
    format!(
        "<h2>{}</h2><p class=\"hint\">{}</p>{action}",
        t.chip_title, t.chip_intro
    )
}
