//! Fixtures shared by the token tests.

use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use super::{Authentication, PairwiseSalt, RelyingParty, SectorId, TokenIssuer};
use crate::assurance::Loa;

pub(crate) const ISSUER: &str = "https://eid.example.vn";
pub(crate) const T0: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
pub(crate) const ACCOUNT: Uuid = Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888);

pub(crate) fn issuer() -> TokenIssuer {
    TokenIssuer::new(ISSUER, PairwiseSalt::new(&[7; 32]).unwrap())
}

pub(crate) fn citizen(loa: Option<Loa>) -> Authentication {
    Authentication {
        account: ACCOUNT,
        auth_time: Some(T0 - time::Duration::minutes(1)),
        loa,
        amr: vec!["hwk".to_owned(), "user".to_owned()],
    }
}

pub(crate) fn client(client_id: &str, sector: &str) -> RelyingParty {
    RelyingParty::pairwise(client_id, SectorId::new(sector).unwrap())
}
