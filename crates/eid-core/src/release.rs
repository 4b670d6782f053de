//! Attribute release: which claims about a citizen a relying party receives for the scopes
//! it was granted.
//!
//! | scope         | claims |
//! |---------------|--------|
//! | `openid`      | none beyond `sub` (required in every OpenID Connect request) |
//! | `profile`     | `name`, `family_name`, `middle_name`, `given_name` |
//! | `birthdate`   | `birthdate` (`YYYY-MM-DD`, OIDC Core 5.1) |
//! | `gender`      | `gender` (`male` / `female`, OIDC Core 5.1) |
//! | `address`     | `address` — the population register holds no residence, so nothing is released yet (the chip's DG13 will provide it) |
//! | `personal_id` | `personal_id`, the 12-digit number: only for services legally entitled to it |
//! | `pid`         | none: an access token for the credential endpoint, where the citizen's wallet receives their identity as an SD-JWT VC (OpenID4VCI) |
//!
//! `name` is in Vietnamese order (family, middle, given). Values come from the register's
//! record, so the relying party receives the identity as the register spells it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::audit::AttributeName;
use crate::citizen::Sex;
use crate::registry::RegisterRecord;

/// A scope this service understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `openid`: an OpenID Connect request.
    OpenId,
    /// `profile`: the citizen's names.
    Profile,
    /// `birthdate`: the date of birth.
    Birthdate,
    /// `gender`: the sex recorded in the register.
    Gender,
    /// `address`: the residence address.
    Address,
    /// `personal_id`: the personal identification number.
    PersonalId,
    /// `pid`: issuance of the citizen's identity credential to their wallet.
    Pid,
}

impl Scope {
    /// Every scope, for discovery's `scopes_supported`.
    pub const ALL: [Scope; 7] = [
        Scope::OpenId,
        Scope::Profile,
        Scope::Birthdate,
        Scope::Gender,
        Scope::Address,
        Scope::PersonalId,
        Scope::Pid,
    ];

    /// The scope's name in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Birthdate => "birthdate",
            Scope::Gender => "gender",
            Scope::Address => "address",
            Scope::PersonalId => "personal_id",
            Scope::Pid => "pid",
        }
    }

    /// The claims the scope releases (see the module table).
    pub fn claims(self) -> &'static [&'static str] {
        match self {
            Scope::OpenId => &[],
            Scope::Profile => &["name", "family_name", "middle_name", "given_name"],
            Scope::Birthdate => &["birthdate"],
            Scope::Gender => &["gender"],
            Scope::Address => &["address"],
            Scope::PersonalId => &["personal_id"],
            Scope::Pid => &[],
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `scope` parameter that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A character outside RFC 6749 section 3.3's `NQCHAR`, or empty tokens between spaces.
    #[error("malformed scope parameter")]
    Malformed,
    /// A scope this service does not know (its name is not echoed: it is client input).
    #[error("unknown scope")]
    Unknown,
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, ScopeError> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or(ScopeError::Unknown)
    }
}

/// Parses a `scope` parameter: scope tokens separated by single spaces, each of
/// `NQCHAR`s (RFC 6749 section 3.3), case-sensitive. Repeats are merged.
pub fn parse_scopes(scope: &str) -> Result<BTreeSet<Scope>, ScopeError> {
    let nqchar = |c: char| matches!(c, '\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}');
    scope
        .split(' ')
        .map(|token| {
            if token.is_empty() || !token.chars().all(nqchar) {
                Err(ScopeError::Malformed)
            } else {
                token.parse()
            }
        })
        .collect()
}

/// Formats scopes as a `scope` parameter value.
pub fn format_scopes(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The claims released for `scopes`, with the names of the attributes released (for the
/// audit log, which records names, never values).
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// Claim name → value, ready for an ID token or a UserInfo response.
    pub claims: Map<String, Value>,
    /// Names of the released claims.
    pub attributes: BTreeSet<AttributeName>,
}

/// The claims about `record` that `scopes` release.
pub fn release(record: &RegisterRecord, scopes: &BTreeSet<Scope>) -> Release {
    let identity = &record.identity;
    let mut claims = Map::new();
    for scope in scopes {
        match scope {
            Scope::OpenId | Scope::Address | Scope::Pid => {}
            Scope::Profile => {
                let names = [
                    ("family_name", &identity.family_name),
                    ("middle_name", &identity.middle_names),
                    ("given_name", &identity.given_name),
                ];
                for (claim, value) in names {
                    if !value.is_empty() {
                        claims.insert(claim.into(), Value::from(value.as_str()));
                    }
                }
                claims.insert("name".into(), Value::from(identity.full_name()));
            }
            Scope::Birthdate => {
                let date = identity.birth_date;
                let text = format!(
                    "{:04}-{:02}-{:02}",
                    date.year(),
                    u8::from(date.month()),
                    date.day()
                );
                claims.insert("birthdate".into(), Value::from(text));
            }
            Scope::Gender => {
                let gender = match identity.sex {
                    Sex::Male => "male",
                    Sex::Female => "female",
                };
                claims.insert("gender".into(), Value::from(gender));
            }
            Scope::PersonalId => {
                claims.insert(
                    "personal_id".into(),
                    Value::from(record.personal_id.expose()),
                );
            }
        }
    }
    let attributes = claims
        .keys()
        .filter_map(|name| AttributeName::new(name.as_str()).ok())
        .collect();
    Release { claims, attributes }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::citizen::{PersonalId, PivotIdentity};
    use crate::registry::RecordStatus;

    fn record(middle: &str) -> RegisterRecord {
        RegisterRecord {
            personal_id: PersonalId::parse("001190123489").unwrap(),
            identity: PivotIdentity {
                family_name: "Nguyễn".into(),
                middle_names: middle.into(),
                given_name: "Hương".into(),
                birth_date: date!(1990 - 03 - 07),
                sex: Sex::Female,
                place_of_birth: "Hà Nội".into(),
                nationality: "VN".into(),
            },
            status: RecordStatus::Active,
        }
    }

    fn scopes(s: &str) -> BTreeSet<Scope> {
        parse_scopes(s).unwrap()
    }

    #[test]
    fn each_scope_releases_its_claims_only() {
        let r = record("Thị Thu");
        assert!(release(&r, &scopes("openid")).claims.is_empty());
        let profile = release(&r, &scopes("openid profile"));
        assert_eq!(profile.claims["name"], "Nguyễn Thị Thu Hương");
        assert_eq!(profile.claims["family_name"], "Nguyễn");
        assert_eq!(profile.claims["middle_name"], "Thị Thu");
        assert_eq!(profile.claims["given_name"], "Hương");
        assert!(!profile.claims.contains_key("birthdate"));
        assert!(!profile.claims.contains_key("personal_id"));
        let all = release(&r, &scopes("openid birthdate gender personal_id address"));
        assert_eq!(all.claims["birthdate"], "1990-03-07");
        assert_eq!(all.claims["gender"], "female");
        assert_eq!(all.claims["personal_id"], "001190123489");
        assert!(!all.claims.contains_key("address"));
        assert!(!all.claims.contains_key("name"));
    }

    #[test]
    fn audit_names_match_the_released_claims() {
        let released = release(&record(""), &scopes("openid profile personal_id"));
        let names: Vec<&str> = released.attributes.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, ["family_name", "given_name", "name", "personal_id"]);
        assert!(
            !released.claims.contains_key("middle_name"),
            "empty middle name"
        );
    }

    #[test]
    fn scope_parameters_follow_rfc_6749_section_3_3() {
        assert_eq!(
            scopes("profile openid profile"),
            BTreeSet::from([Scope::OpenId, Scope::Profile])
        );
        assert_eq!(format_scopes(&scopes("gender openid")), "openid gender");
        for bad in [
            "",
            " openid",
            "openid ",
            "openid  profile",
            "open\"id",
            "ópenid",
        ] {
            assert_eq!(parse_scopes(bad), Err(ScopeError::Malformed), "{bad:?}");
        }
        assert_eq!(parse_scopes("openid email"), Err(ScopeError::Unknown));
        assert_eq!(parse_scopes("OPENID"), Err(ScopeError::Unknown));
        assert_eq!(ScopeError::Unknown.to_string(), "unknown scope");
    }
}
