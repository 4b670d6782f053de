//! The self-enrolment form.

use axum::http::StatusCode;
use axum::response::Response;

use super::super::lang::Lang;
use super::super::params::Params;
use super::{Script, escape, page, texts};

/// What the enrolment form shows.
pub struct EnrolForm<'a> {
    pub lang: Lang,
    /// The form's flow id.
    pub req: &'a str,
    pub csrf: &'a str,
    /// What the citizen typed (passwords are never shown back).
    pub params: &'a Params,
    pub error: Option<&'a str>,
}

/// The enrolment form.
pub fn enrol(status: StatusCode, f: &EnrolForm<'_>) -> Response {
    let t = texts(f.lang);
    let value = |name: &str| escape(f.params.get(name).unwrap_or_default());
    let text = |name: &str, label: &str, extra: &str| {
        format!(
            "<label for=\"{name}\">{label}</label>\
             <input id=\"{name}\" name=\"{name}\" value=\"{value}\" maxlength=\"100\" {extra}>",
            value = value(name),
        )
    };
    let sex = f.params.get("sex").unwrap_or_default();
    let option = |v: &str, label: &str| {
        let selected = if sex == v { " selected" } else { "" };
        format!("<option value=\"{v}\"{selected}>{label}</option>")
    };
    let error = f
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<p class=\"hint\">{intro}</p>{error}<form id=\"enrol\" method=\"post\" action=\"/enrol\">\
         <input type=\"hidden\" name=\"req\" value=\"{req}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         {pid}{family}{middle}{given}\
         <label for=\"birth_date\">{birth}</label>\
         <input id=\"birth_date\" name=\"birth_date\" type=\"date\" value=\"{birth_value}\" required>\
         <label for=\"sex\">{sex_label}</label><select id=\"sex\" name=\"sex\" required>{male}{female}</select>\
         {place}\
         <label for=\"password\">{pw}</label>\
         <input id=\"password\" name=\"password\" type=\"password\" maxlength=\"1024\" autocomplete=\"new-password\" required>\
         <label for=\"password_again\">{pw2}</label>\
         <input id=\"password_again\" name=\"password_again\" type=\"password\" maxlength=\"1024\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">{create}</button></form>",
        intro = t.enrol_intro,
        req = escape(f.req),
        csrf = escape(f.csrf),
        pid = text(
            "personal_id",
            t.personal_id,
            "inputmode=\"numeric\" pattern=\"[0-9]{12}\" autocomplete=\"username\" required"
        ),
        family = text(
            "family_name",
            t.family_name,
            "autocomplete=\"family-name\" required"
        ),
        middle = text(
            "middle_names",
            t.middle_names,
            "autocomplete=\"additional-name\""
        ),
        given = text(
            "given_name",
            t.given_name,
            "autocomplete=\"given-name\" required"
        ),
        birth = t.birth_date,
        birth_value = value("birth_date"),
        sex_label = t.sex,
        male = option("male", t.male),
        female = option("female", t.female),
        place = text("place_of_birth", t.place_of_birth, "required"),
        pw = t.new_password,
        pw2 = t.password_again,
        create = t.create_account,
    );
    page(status, f.lang, t.enrol_title, &body, &[], Script::None)
}
