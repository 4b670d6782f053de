//! Levels of assurance and their `acr` names.
//!
//! # How a level is decided
//!
//! A level of assurance (`Loa`) says how sure a relying party can be that the person
//! logging in is the citizen named in the token. Following eIDAS (Implementing Regulation
//! (EU) 2015/1502), it is the *weaker* of two things:
//!
//! * **identity proofing** — how the citizen's identity was established when the account
//!   was created ([`ProofingEvidence`]), and
//! * **authentication** — what the citizen used to log in this time ([`Authenticator`]).
//!
//! | proofing evidence                    | caps the level at | why |
//! |--------------------------------------|-------------------|-----|
//! | register match only                  | substantial       | remote: claimed data matched the national register (a national level 1 account). Knowledge of someone's data is not possession of their card, so never high. |
//! | register + chip passive authentication | high            | the card's chip was read and its signed data (ICAO 9303 passive authentication) matched the register: evidence of possession of a genuine, state-signed document. |
//! | in person                            | high              | checked at a counter with the card, portrait and fingerprints (a national level 2 account). |
//!
//! | authenticator                        | caps the level at | why |
//! |--------------------------------------|-------------------|-----|
//! | password                             | low               | one knowledge factor, phishable. |
//! | passkey without user verification    | low               | one possession factor. |
//! | passkey with user verification       | high              | possession of a phishing-resistant key plus a PIN or biometric: two factors. |
//!
//! So a register-matched citizen with a user-verified passkey is *substantial*, and only
//! chip- or in-person-proofed citizens with a user-verified passkey reach *high*.
//!
//! # `acr` values
//!
//! [`AcrTable`] maps each level to the `acr` string put into tokens and to the aliases a
//! relying party may ask for in `acr_values`. The defaults are the eIDAS URIs
//! (`http://eidas.europa.eu/LoA/{low,substantial,high}`) plus the national names of the
//! two account levels of Decree 69/2024/NĐ-CP: level 1 (remote registration matched
//! against the register) is accepted as *substantial*, level 2 (in-person registration) as
//! *high*. This is an inference, not law, which is why the table is configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A level of assurance, ordered `Low < Substantial < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loa {
    /// eIDAS low.
    Low,
    /// eIDAS substantial.
    Substantial,
    /// eIDAS high.
    High,
}

impl Loa {
    /// All levels, lowest first.
    pub const ALL: [Loa; 3] = [Loa::Low, Loa::Substantial, Loa::High];

    /// The lower-case name (`low`, `substantial`, `high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Loa::Low => "low",
            Loa::Substantial => "substantial",
            Loa::High => "high",
        }
    }

    /// The level reached by a citizen proofed with `evidence` who authenticated with
    /// `authenticator`: the weaker of the two caps (see the module docs).
    pub fn achieved(evidence: ProofingEvidence, authenticator: Authenticator) -> Loa {
        evidence.cap().min(authenticator.cap())
    }
}

impl fmt::Display for Loa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level of assurance {0:?} (expected low, substantial or high)")]
pub struct UnknownLoa(pub String);

impl FromStr for Loa {
    type Err = UnknownLoa;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Loa::Low),
            "substantial" => Ok(Loa::Substantial),
            "high" => Ok(Loa::High),
            other => Err(UnknownLoa(other.to_owned())),
        }
    }
}

/// How a citizen's identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofingEvidence {
    /// Claimed attributes matched the population register (remote, national level 1).
    RegisterMatch,
    /// Register match plus ICAO 9303 passive authentication of the card's chip.
    RegisterAndChip,
    /// Proofed in person with the card, portrait and fingerprints (national level 2).
    InPerson,
}

impl ProofingEvidence {
    /// The highest level this evidence supports.
    pub fn cap(self) -> Loa {
        match self {
            ProofingEvidence::RegisterMatch => Loa::Substantial,
            ProofingEvidence::RegisterAndChip | ProofingEvidence::InPerson => Loa::High,
        }
    }
}

/// What the citizen authenticated with in this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authenticator {
    /// A password.
    Password,
    /// A passkey asserted without user verification (presence only).
    Passkey,
    /// A passkey asserted with user verification (PIN or biometric on the authenticator).
    PasskeyUserVerified,
}

impl Authenticator {
    /// The highest level this authenticator supports.
    pub fn cap(self) -> Loa {
        match self {
            Authenticator::Password | Authenticator::Passkey => Loa::Low,
            Authenticator::PasskeyUserVerified => Loa::High,
        }
    }
}

/// eIDAS `acr` URI for low.
pub const EIDAS_LOW: &str = "http://eidas.europa.eu/LoA/low";
/// eIDAS `acr` URI for substantial.
pub const EIDAS_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
/// eIDAS `acr` URI for high.
pub const EIDAS_HIGH: &str = "http://eidas.europa.eu/LoA/high";
/// National name of a level 1 electronic identification account.
pub const NATIONAL_LEVEL1: &str = "urn:vn:eid:account:level1";
/// National name of a level 2 electronic identification account.
pub const NATIONAL_LEVEL2: &str = "urn:vn:eid:account:level2";

/// A configuration error in an [`AcrTable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcrTableError {
    /// A level has no `acr` value to put in tokens.
    #[error("level {0} has no acr value")]
    MissingLevel(Loa),
    /// One `acr` string is given to two levels.
    #[error("acr value {acr:?} is given to both {first} and {second}")]
    Ambiguous {
        /// The repeated string.
        acr: String,
        /// The level that had it first.
        first: Loa,
        /// The level that repeats it.
        second: Loa,
    },
    /// An empty `acr` string.
    #[error("empty acr value for level {0}")]
    Empty(Loa),
}

/// Maps each [`Loa`] to `acr` strings: the first one is put in tokens, the others are
/// aliases accepted in requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcrTable {
    names: BTreeMap<Loa, Vec<String>>,
    lookup: BTreeMap<String, Loa>,
}

impl AcrTable {
    /// Builds a table from `level -> [primary, aliases…]`, checking that every level has a
    /// value and that no string names two levels.
    pub fn new(names: BTreeMap<Loa, Vec<String>>) -> Result<Self, AcrTableError> {
        let mut lookup = BTreeMap::new();
        for loa in Loa::ALL {
            let values = names.get(&loa).filter(|v| !v.is_empty());
            let values = values.ok_or(AcrTableError::MissingLevel(loa))?;
            for acr in values {
                if acr.trim().is_empty() {
                    return Err(AcrTableError::Empty(loa));
                }
                if let Some(first) = lookup.insert(acr.clone(), loa)
                    && first != loa
                {
                    return Err(AcrTableError::Ambiguous {
                        acr: acr.clone(),
                        first,
                        second: loa,
                    });
                }
            }
        }
        Ok(Self { names, lookup })
    }

    /// The `acr` value to put in a token issued at `loa`.
    pub fn acr(&self, loa: Loa) -> &str {
        // `new` guarantees every level has at least one value.
        &self.names[&loa][0]
    }

    /// The level an `acr` string names, if any.
    pub fn loa_of(&self, acr: &str) -> Option<Loa> {
        self.lookup.get(acr).copied()
    }

    /// Every `acr` string the table knows, for discovery documents.
    pub fn all_values(&self) -> impl Iterator<Item = &str> {
        self.names.values().flatten().map(String::as_str)
    }
}

impl Default for AcrTable {
    fn default() -> Self {
        let names = BTreeMap::from([
            (Loa::Low, vec![EIDAS_LOW.to_owned()]),
            (
                Loa::Substantial,
                vec![EIDAS_SUBSTANTIAL.to_owned(), NATIONAL_LEVEL1.to_owned()],
            ),
            (
                Loa::High,
                vec![EIDAS_HIGH.to_owned(), NATIONAL_LEVEL2.to_owned()],
            ),
        ]);
        Self::new(names).expect("the default acr table is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert!(Loa::Low < Loa::Substantial && Loa::Substantial < Loa::High);
        assert_eq!("substantial".parse::<Loa>(), Ok(Loa::Substantial));
        assert!("medium".parse::<Loa>().is_err());
    }

    #[test]
    fn achieved_level_is_the_weaker_cap() {
        use Authenticator::*;
        use ProofingEvidence::*;
        assert_eq!(Loa::achieved(RegisterMatch, Password), Loa::Low);
        assert_eq!(Loa::achieved(RegisterMatch, Passkey), Loa::Low);
        assert_eq!(
            Loa::achieved(RegisterMatch, PasskeyUserVerified),
            Loa::Substantial
        );
        assert_eq!(Loa::achieved(RegisterAndChip, Password), Loa::Low);
        assert_eq!(
            Loa::achieved(RegisterAndChip, PasskeyUserVerified),
            Loa::High
        );
        assert_eq!(Loa::achieved(InPerson, PasskeyUserVerified), Loa::High);
    }

    #[test]
    fn default_table_maps_eidas_and_national_names() {
        let t = AcrTable::default();
        assert_eq!(t.acr(Loa::High), EIDAS_HIGH);
        assert_eq!(t.loa_of(EIDAS_LOW), Some(Loa::Low));
        assert_eq!(t.loa_of(NATIONAL_LEVEL1), Some(Loa::Substantial));
        assert_eq!(t.loa_of(NATIONAL_LEVEL2), Some(Loa::High));
        assert_eq!(t.loa_of("urn:unknown"), None);
        assert_eq!(t.all_values().count(), 5);
    }

    #[test]
    fn table_rejects_missing_and_ambiguous_levels() {
        let mut names = BTreeMap::from([(Loa::Low, vec!["a".to_owned()])]);
        assert_eq!(
            AcrTable::new(names.clone()),
            Err(AcrTableError::MissingLevel(Loa::Substantial))
        );
        names.insert(Loa::Substantial, vec!["b".to_owned()]);
        names.insert(Loa::High, vec!["c".to_owned(), "a".to_owned()]);
        assert!(matches!(
            AcrTable::new(names),
            Err(AcrTableError::Ambiguous { .. })
        ));
    }
}
