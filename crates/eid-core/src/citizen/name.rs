//! Name normalisation for matching: Unicode NFC, full case folding, collapsed whitespace.
//!
//! Vietnamese diacritics are significant: `Nguyễn` and `Nguyen` are different names. Only the
//! encoding (NFC vs NFD), letter case and spacing are forgiven.

use unicode_normalization::UnicodeNormalization;

/// How a claimed name compares with the registered one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMatch {
    /// Byte-for-byte identical.
    Exact,
    /// Equal after normalisation only (case, spacing or Unicode composition differ).
    Normalised,
    /// Different names.
    Different,
}

/// Canonical composition (NFC).
pub(crate) fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// The comparison key of a name: NFC, full Unicode case folding, NFC again (folding can
/// decompose), then whitespace trimmed and every run of whitespace collapsed to one space.
pub fn normalize_name(name: &str) -> String {
    let folded = nfc(&caseless::default_case_fold_str(&nfc(name)));
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compares a claimed name with a registered one.
pub fn compare_names(claimed: &str, registered: &str) -> NameMatch {
    if claimed == registered {
        NameMatch::Exact
    } else if normalize_name(claimed) == normalize_name(registered) {
        NameMatch::Normalised
    } else {
        NameMatch::Different
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diacritics_are_significant() {
        assert_eq!(compare_names("Nguyen", "Nguyễn"), NameMatch::Different);
        assert_eq!(compare_names("Le", "Lê"), NameMatch::Different);
        assert_eq!(compare_names("Dang", "Đặng"), NameMatch::Different);
        assert_eq!(compare_names("Hương", "Hường"), NameMatch::Different);
    }

    #[test]
    fn nfd_input_matches_its_nfc_form() {
        let nfd: String = "Nguyễn Thị Ánh".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị Ánh");
        assert_eq!(compare_names(&nfd, "Nguyễn Thị Ánh"), NameMatch::Normalised);
        assert_eq!(normalize_name(&nfd), "nguyễn thị ánh");
    }

    #[test]
    fn case_and_whitespace_are_forgiven() {
        assert_eq!(
            compare_names("  NGUYỄN   văn\tAN ", "Nguyễn Văn An"),
            NameMatch::Normalised
        );
        assert_eq!(compare_names("ĐẶNG", "đặng"), NameMatch::Normalised);
        assert_eq!(
            compare_names("Nguyễn Văn An", "Nguyễn Văn An"),
            NameMatch::Exact
        );
    }

    #[test]
    fn full_case_folding_is_used() {
        // Full folding maps ß to "ss"; simple folding would not.
        assert_eq!(normalize_name("STRAßE"), "strasse");
    }

    #[test]
    fn empty_and_blank_names_normalise_to_empty() {
        assert_eq!(normalize_name(" \t "), "");
    }
}
