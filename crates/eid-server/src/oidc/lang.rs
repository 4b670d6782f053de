//! The language of the citizen's pages: Vietnamese or English, chosen from the request's
//! `ui_locales` (OIDC Core 3.1.2.1), then `Accept-Language`, else Vietnamese.

use serde::{Deserialize, Serialize};

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Lang {
    /// Tiếng Việt (the default).
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The first supported language of `ui_locales` (space-separated tags in order of
    /// preference), else the best of `accept_language`, else Vietnamese.
    pub fn choose(ui_locales: Option<&str>, accept_language: Option<&str>) -> Lang {
        ui_locales
            .and_then(|tags| tags.split(' ').find_map(Lang::of_tag))
            .or_else(|| accept_language.and_then(Lang::from_accept_language))
            .unwrap_or_default()
    }

    fn of_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split('-').next()?.to_ascii_lowercase();
        match primary.as_str() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The supported language with the highest `q` in an `Accept-Language` header
    /// (RFC 9110 section 12.5.4); ties go to the earlier entry.
    fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for entry in header.split(',').take(32) {
            let mut parts = entry.split(';');
            let Some(lang) = parts.next().and_then(Lang::of_tag) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), parse_q);
            if let Some(q) = q
                && q > 0
                && best.is_none_or(|(b, _)| q > b)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }
}

/// A `q` value in thousandths.
fn parse_q(q: &str) -> Option<u16> {
    let value: f32 = q.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_win_then_accept_language_then_vietnamese() {
        assert_eq!(Lang::choose(Some("fr en-GB"), Some("vi")), Lang::En);
        assert_eq!(Lang::choose(Some("fr"), Some("en-US,vi;q=0.5")), Lang::En);
        assert_eq!(Lang::choose(None, Some("en;q=0.4, vi;q=0.9")), Lang::Vi);
        assert_eq!(Lang::choose(None, Some("de, en;q=0")), Lang::Vi);
        assert_eq!(Lang::choose(None, Some("garbage;;q=x")), Lang::Vi);
        assert_eq!(Lang::choose(None, None), Lang::Vi);
    }
}
