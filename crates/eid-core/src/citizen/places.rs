//! The codes of the place where a birth was registered: the `PPP` digits of a personal ID.
//!
//! The tables are data, not code: `data/provinces.csv` (the 63 published province codes;
//! Luật Căn cước 2023 art. 12, Thông tư 07/2016/TT-BCA, Thông tư 59/2021/TT-BCA) and
//! `data/countries.csv` (codes for births registered abroad — the published list is
//! unconfirmed, so that file ships empty and can be corrected without touching code).

use std::sync::LazyLock;

use super::CitizenError;

const PROVINCES_CSV: &str = include_str!("../../data/provinces.csv");
const COUNTRIES_CSV: &str = include_str!("../../data/countries.csv");

static EMBEDDED: LazyLock<Result<RegistrationPlaces, CitizenError>> =
    LazyLock::new(|| RegistrationPlaces::parse(PROVINCES_CSV, COUNTRIES_CSV));

/// Whether a code names a province (birth registered in Vietnam) or a country (abroad).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    /// A province or centrally-run city.
    Province,
    /// A foreign country (birth registered at a Vietnamese mission abroad).
    Country,
}

/// One registration place: its three-digit code and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The three-digit code (`0..=999`).
    pub code: u16,
    /// The name, in Unicode NFC.
    pub name: String,
    /// Province or country.
    pub kind: PlaceKind,
}

/// The table of registration place codes, indexed by code.
#[derive(Debug, Clone)]
pub struct RegistrationPlaces {
    by_code: Vec<Option<Place>>,
}

impl RegistrationPlaces {
    /// The tables embedded from `data/` (parsed once).
    pub fn embedded() -> Result<&'static Self, CitizenError> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// Parses a province table and a country table (format described in `data/provinces.csv`:
    /// `#` comment lines, a `code,name` header, then one row per code). A code may appear once
    /// across both tables.
    pub fn parse(provinces_csv: &str, countries_csv: &str) -> Result<Self, CitizenError> {
        let mut table = Self {
            by_code: vec![None; 1000],
        };
        table.add(provinces_csv, PlaceKind::Province)?;
        table.add(countries_csv, PlaceKind::Country)?;
        Ok(table)
    }

    fn add(&mut self, csv_text: &str, kind: PlaceKind) -> Result<(), CitizenError> {
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .from_reader(csv_text.as_bytes());
        for row in reader.records() {
            let row = row.map_err(|e| CitizenError::PlaceTable {
                line: e.position().map_or(0, |p| p.line()),
                reason: e.to_string(),
            })?;
            let line = row.position().map_or(0, |p| p.line());
            let bad = |reason: &str| CitizenError::PlaceTable {
                line,
                reason: reason.to_owned(),
            };
            let (Some(code), Some(name), None) = (row.get(0), row.get(1), row.get(2)) else {
                return Err(bad("expected two columns: code,name"));
            };
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("the code must be three digits"));
            }
            let code: u16 = code
                .parse()
                .map_err(|_| bad("the code must be three digits"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(bad("the name is empty"));
            }
            let slot = &mut self.by_code[usize::from(code)];
            if slot.is_some() {
                return Err(bad("duplicate code"));
            }
            *slot = Some(Place {
                code,
                name: super::name::nfc(name),
                kind,
            });
        }
        Ok(())
    }

    /// The place with this code, if any.
    pub fn get(&self, code: u16) -> Option<&Place> {
        self.by_code.get(usize::from(code))?.as_ref()
    }

    /// All places, by ascending code.
    pub fn iter(&self) -> impl Iterator<Item = &Place> {
        self.by_code.iter().flatten()
    }

    /// All places of one kind, by ascending code.
    pub fn of_kind(&self, kind: PlaceKind) -> impl Iterator<Item = &Place> {
        self.iter().filter(move |p| p.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "# comment\ncode,name\n";

    #[test]
    fn embedded_table_has_the_63_provinces() {
        let places = RegistrationPlaces::embedded().unwrap();
        assert_eq!(places.of_kind(PlaceKind::Province).count(), 63);
        assert_eq!(places.get(1).unwrap().name, "Hà Nội");
        assert_eq!(places.get(79).unwrap().name, "TP. Hồ Chí Minh");
        assert_eq!(places.get(96).unwrap().name, "Cà Mau");
        assert!(places.get(3).is_none());
        assert!(places.get(999).is_none());
        assert!(places.get(1000).is_none());
    }

    #[test]
    fn countries_are_their_own_kind() {
        let places = RegistrationPlaces::parse(
            &format!("{HEADER}001,Hà Nội\n"),
            &format!("{HEADER}400,Pháp\n"),
        )
        .unwrap();
        assert_eq!(places.get(400).unwrap().kind, PlaceKind::Country);
        assert_eq!(places.get(1).unwrap().kind, PlaceKind::Province);
    }

    #[test]
    fn bad_tables_are_rejected_with_their_line() {
        for (rows, line) in [
            ("001,Hà Nội\n01,X\n", 4),
            ("001,Hà Nội\nabc,X\n", 4),
            ("001,\n", 3),
            ("001\n", 3),
            ("001,A,B\n", 3),
            ("001,A\n001,B\n", 4),
        ] {
            let err = RegistrationPlaces::parse(&format!("{HEADER}{rows}"), HEADER).unwrap_err();
            assert!(
                matches!(err, CitizenError::PlaceTable { line: l, .. } if l == line),
                "{rows:?}: {err:?}"
            );
        }
    }

    #[test]
    fn a_code_cannot_be_both_province_and_country() {
        let err =
            RegistrationPlaces::parse(&format!("{HEADER}001,A\n"), &format!("{HEADER}001,B\n"))
                .unwrap_err();
        assert!(matches!(err, CitizenError::PlaceTable { .. }));
    }
}
