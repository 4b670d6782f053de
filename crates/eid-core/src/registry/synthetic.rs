//! A deterministic synthetic population, for demos, tests and benchmarks.
//!
//! # Stable algorithm
//!
//! The same `(count, seed)` gives the same citizens on every platform and with every version
//! of this crate's dependencies that keeps these definitions:
//!
//! * the random stream is **ChaCha8** (`rand::rngs::ChaCha8Rng`, i.e. the `chacha20`
//!   crate's RNG, whose output is specified by the cipher), keyed with the seed as 8
//!   little-endian bytes followed by 24 zero bytes, stream 0, read with `next_u64`;
//!   `rand`'s distributions are **not** used (their algorithms may change between versions);
//! * `below(n)` is `(next_u64() as u128 * n) >> 64` (multiply-shift; the bias is below
//!   2⁻⁴⁰ for the ranges used here) and a weighted pick takes the first entry whose
//!   cumulative weight exceeds `below(total weight)`;
//! * per citizen, in this order: sex (`below(2)`: 0 male), date of birth (uniform in
//!   1930-01-01..=2008-12-31), province of birth registration (uniform over the embedded
//!   province table by ascending code), family name, middle name and given name (lists in
//!   `synthetic_names.rs`), status (`below(1000)`: < 20 deceased, < 30 card revoked, else
//!   active), then the six random digits (`below(1_000_000)`, drawn again while the number
//!   is already taken).
//!
//! Place of birth is the province's name, nationality `VN`.

use std::collections::HashSet;

use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration};

use super::synthetic_names::{
    FAMILY_NAMES, FEMALE_GIVEN_NAMES, FEMALE_MIDDLE_NAMES, MALE_GIVEN_NAMES, MALE_MIDDLE_NAMES,
};
use super::{RecordStatus, RegisterRecord, RegistryError};
use crate::citizen::{PersonalId, PivotIdentity, Place, PlaceKind, RegistrationPlaces, Sex};

/// An iterator over `count` synthetic citizens generated from `seed`.
pub struct SyntheticPopulation {
    rng: ChaCha8Rng,
    provinces: Vec<&'static Place>,
    taken: HashSet<PersonalId>,
    remaining: u64,
}

const FIRST_BIRTH_DATE: Date = time::macros::date!(1930 - 01 - 01);
const LAST_BIRTH_DATE: Date = time::macros::date!(2008 - 12 - 31);

impl SyntheticPopulation {
    /// At most this many citizens (bounds memory and keeps every number prefix far from full).
    pub const MAX_COUNT: u64 = 100_000_000;

    /// A generator of `count` citizens from `seed`.
    pub fn new(count: u64, seed: u64) -> Result<Self, RegistryError> {
        if count > Self::MAX_COUNT {
            return Err(RegistryError::TooManyCitizens {
                max: Self::MAX_COUNT,
            });
        }
        let places = RegistrationPlaces::embedded().map_err(RegistryError::Places)?;
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        Ok(Self {
            rng: ChaCha8Rng::from_seed(key),
            provinces: places.of_kind(PlaceKind::Province).collect(),
            taken: HashSet::new(),
            remaining: count,
        })
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.rng.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len() as u64) as usize]
    }

    fn pick_weighted<'a>(&mut self, list: &[(&'a str, u32)]) -> &'a str {
        let total: u64 = list.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut r = self.below(total);
        for (name, weight) in list {
            match r.checked_sub(u64::from(*weight)) {
                Some(rest) => r = rest,
                None => return name,
            }
        }
        list[list.len() - 1].0
    }

    fn citizen(&mut self) -> Result<RegisterRecord, RegistryError> {
        let sex = if self.below(2) == 0 {
            Sex::Male
        } else {
            Sex::Female
        };
        let span = (LAST_BIRTH_DATE - FIRST_BIRTH_DATE).whole_days() as u64 + 1;
        let birth_date = FIRST_BIRTH_DATE + Duration::days(self.below(span) as i64);
        let index = self.below(self.provinces.len() as u64) as usize;
        let province = self.provinces[index];
        let family_name = self.pick_weighted(FAMILY_NAMES);
        let (middle, given) = match sex {
            Sex::Male => (MALE_MIDDLE_NAMES, MALE_GIVEN_NAMES),
            Sex::Female => (FEMALE_MIDDLE_NAMES, FEMALE_GIVEN_NAMES),
        };
        let middle_names = self.pick_weighted(middle);
        let given_name = self.pick(given);
        let status = match self.below(1000) {
            0..20 => RecordStatus::Deceased,
            20..30 => RecordStatus::CardRevoked,
            _ => RecordStatus::Active,
        };
        let personal_id = loop {
            let random = self.below(1_000_000) as u32;
            let id = PersonalId::from_parts(province.code, sex, birth_date.year(), random)
                .map_err(RegistryError::Places)?;
            if self.taken.insert(id) {
                break id;
            }
        };
        Ok(RegisterRecord {
            personal_id,
            identity: PivotIdentity {
                family_name: family_name.to_owned(),
                middle_names: middle_names.to_owned(),
                given_name: given_name.to_owned(),
                birth_date,
                sex,
                place_of_birth: province.name.clone(),
                nationality: "VN".to_owned(),
            },
            status,
        })
    }
}

impl Iterator for SyntheticPopulation {
    type Item = Result<RegisterRecord, RegistryError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        Some(self.citizen())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn population(count: u64, seed: u64) -> Vec<RegisterRecord> {
        SyntheticPopulation::new(count, seed)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn same_seed_same_citizens() {
        assert_eq!(population(500, 7), population(500, 7));
        assert_ne!(population(50, 7), population(50, 8));
        // A prefix of a larger population is the smaller population.
        assert_eq!(population(1000, 7)[..500], population(500, 7)[..]);
    }

    #[test]
    fn output_is_pinned() {
        // Guards the documented algorithm: if this changes, so does every seeded register.
        let first = &population(1, 42)[0];
        assert_eq!(first.personal_id.expose(), "048052266520");
        assert_eq!(first.identity.full_name(), "Nguyễn Thanh Bình");
        assert_eq!(
            first.identity.birth_date,
            time::macros::date!(1952 - 07 - 27)
        );
        assert_eq!(first.identity.sex, Sex::Male);
        assert_eq!(first.identity.place_of_birth, "Đà Nẵng");
        assert_eq!(first.status, RecordStatus::Active);
    }

    #[test]
    fn every_citizen_is_valid_and_unique() {
        let citizens = population(20_000, 1);
        let mut seen = HashSet::new();
        for c in &citizens {
            let reparsed = PersonalId::parse(&c.personal_id.expose()).unwrap();
            assert_eq!(reparsed, c.personal_id);
            c.personal_id
                .check_birth_date(c.identity.birth_date)
                .unwrap();
            c.personal_id.check_sex(c.identity.sex).unwrap();
            assert_eq!(
                c.personal_id.place().unwrap().name,
                c.identity.place_of_birth
            );
            c.identity.validate().unwrap();
            assert!(seen.insert(c.personal_id));
        }
    }

    #[test]
    fn shares_look_vietnamese() {
        let citizens = population(20_000, 3);
        let share = |pred: &dyn Fn(&RegisterRecord) -> bool| {
            citizens.iter().filter(|c| pred(c)).count() as f64 / citizens.len() as f64
        };
        let nguyen = share(&|c| c.identity.family_name == "Nguyễn");
        assert!((0.35..0.42).contains(&nguyen), "Nguyễn {nguyen}");
        let women = share(&|c| c.identity.sex == Sex::Female);
        assert!((0.47..0.53).contains(&women), "women {women}");
        let deceased = share(&|c| c.status == RecordStatus::Deceased);
        assert!((0.01..0.03).contains(&deceased), "deceased {deceased}");
        let revoked = share(&|c| c.status == RecordStatus::CardRevoked);
        assert!((0.005..0.02).contains(&revoked), "revoked {revoked}");
        let thi = share(&|c| c.identity.middle_names == "Thị");
        assert!(thi > 0.15, "Thị {thi}");
        let by_province: HashMap<u16, usize> = citizens.iter().fold(HashMap::new(), |mut m, c| {
            *m.entry(c.personal_id.place_code()).or_default() += 1;
            m
        });
        assert_eq!(by_province.len(), 63);
    }

    #[test]
    fn count_is_bounded() {
        assert!(matches!(
            SyntheticPopulation::new(SyntheticPopulation::MAX_COUNT + 1, 0),
            Err(RegistryError::TooManyCitizens { .. })
        ));
        assert_eq!(SyntheticPopulation::new(0, 0).unwrap().count(), 0);
    }
}
