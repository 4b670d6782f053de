//! The synthetic register the tests generate, and the citizen they enrol.

use eid_core::citizen::Sex;
use eid_core::registry::{RecordStatus, RegisterRecord, SyntheticPopulation};
use serde_json::{Value, json};

/// How many citizens the generated register holds.
pub const CITIZENS: u64 = 50;
/// The generator's seed.
pub const SEED: u64 = 7;

/// The register's first active citizen (the same one `registry generate` writes).
pub fn citizen() -> RegisterRecord {
    SyntheticPopulation::new(CITIZENS, SEED)
        .expect("synthetic population")
        .map(|record| record.expect("synthetic citizen"))
        .find(|record| record.status == RecordStatus::Active)
        .expect("an active citizen")
}

/// The claims the register supports about `record`, as OIDC Core 5.1 spells them.
pub fn register_claims(record: &RegisterRecord) -> Value {
    let id = &record.identity;
    let date = id.birth_date;
    let name: Vec<&str> = [&id.family_name, &id.middle_names, &id.given_name]
        .iter()
        .flat_map(|part| part.split_whitespace())
        .collect();
    let mut claims = json!({
        "name": name.join(" "),
        "family_name": id.family_name,
        "given_name": id.given_name,
        "birthdate": format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()),
        "gender": match id.sex { Sex::Male => "male", Sex::Female => "female" },
        "personal_id": record.personal_id.expose(),
    });
    if !id.middle_names.is_empty() {
        claims["middle_name"] = json!(id.middle_names);
    }
    claims
}
