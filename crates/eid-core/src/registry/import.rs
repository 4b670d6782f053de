//! Reading register files (CSV and JSON; format in `docs/register-format.md`) into records,
//! with an error naming the row for every bad one.

use std::io::Read;

use serde::Deserialize;
use time::Date;

use super::{RecordStatus, RegisterRecord, RegistryError};
use crate::citizen::{PersonalId, PivotIdentity, Sex, iso_date};

/// One row of a register file. Typed fields let serde name what is wrong.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    personal_id: String,
    family_name: String,
    #[serde(default)]
    middle_names: String,
    given_name: String,
    #[serde(with = "iso_date")]
    birth_date: Date,
    sex: Sex,
    place_of_birth: String,
    nationality: String,
    status: RecordStatus,
}

impl Row {
    fn into_record(self, row: u64) -> Result<RegisterRecord, RegistryError> {
        let invalid = |source| RegistryError::InvalidRow { row, source };
        let personal_id = PersonalId::parse(&self.personal_id).map_err(invalid)?;
        let identity = PivotIdentity {
            family_name: self.family_name,
            middle_names: self.middle_names,
            given_name: self.given_name,
            birth_date: self.birth_date,
            sex: self.sex,
            place_of_birth: self.place_of_birth,
            nationality: self.nationality,
        };
        identity.validate().map_err(invalid)?;
        personal_id
            .check_birth_date(identity.birth_date)
            .map_err(invalid)?;
        personal_id.check_sex(identity.sex).map_err(invalid)?;
        Ok(RegisterRecord {
            personal_id,
            identity,
            status: self.status,
        })
    }
}

/// Records of a CSV file with a header row; rows are numbered from 1 after the header.
pub(super) fn csv_records<R: Read>(
    reader: R,
) -> impl Iterator<Item = Result<RegisterRecord, RegistryError>> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(reader)
        .into_deserialize::<Row>()
        .zip(1u64..)
        .map(|(row, n)| {
            row.map_err(|e| RegistryError::MalformedRow {
                row: n,
                reason: csv_reason(&e),
            })?
            .into_record(n)
        })
}

/// The csv error without its position (the row number replaces it).
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!("column {}: {}", field + 1, err.kind()),
            None => err.kind().to_string(),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} columns where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

/// serde's messages quote the offending value (`invalid type: integer 79203001234`); a
/// personal ID number must never reach an error message or a log, so runs of 9 or more
/// digits are masked.
fn mask_digit_runs(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut run = String::new();
    for c in message.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 9 {
            out.push_str("<number>");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Records of a JSON array of objects; rows are numbered from 1 in array order.
pub(super) fn json_records<R: Read>(
    reader: R,
) -> Result<impl Iterator<Item = Result<RegisterRecord, RegistryError>>, RegistryError> {
    let values: Vec<serde_json::Value> =
        serde_json::from_reader(reader).map_err(RegistryError::JsonDocument)?;
    Ok(values.into_iter().zip(1u64..).map(|(value, n)| {
        serde_json::from_value::<Row>(value)
            .map_err(|e| RegistryError::MalformedRow {
                row: n,
                reason: mask_digit_runs(&e.to_string()),
            })?
            .into_record(n)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_error_messages_are_masked() {
        assert_eq!(
            mask_digit_runs("invalid type: integer `79203001234`, expected a string"),
            "invalid type: integer `<number>`, expected a string"
        );
        assert_eq!(mask_digit_runs("row 12: 3 columns"), "row 12: 3 columns");
        assert_eq!(mask_digit_runs("079203001234"), "<number>");
    }

    #[test]
    fn a_number_written_as_a_json_number_is_not_echoed() {
        let json = r#"[{"personal_id": 79203001234, "family_name": "Lê"}]"#;
        let errors: Vec<String> = json_records(json.as_bytes())
            .unwrap()
            .filter_map(Result::err)
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(!errors[0].contains("79203001234"), "{}", errors[0]);
    }
    use crate::citizen::CitizenError;

    const HEADER: &str = "personal_id,family_name,middle_names,given_name,birth_date,sex,place_of_birth,nationality,status\n";
    const GOOD: &str = "001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active\n";

    fn csv_err(rows: &str) -> RegistryError {
        csv_records(format!("{HEADER}{GOOD}{rows}").as_bytes())
            .find_map(Result::err)
            .unwrap()
    }

    #[test]
    fn good_csv_rows_load() {
        let records: Vec<_> = csv_records(format!("{HEADER}{GOOD}").as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].identity.full_name(), "Nguyễn Thị Hương");
        assert_eq!(records[0].status, RecordStatus::Active);
    }

    #[test]
    fn malformed_csv_rows_name_the_row() {
        for bad in [
            "001190123489,Nguyễn,Thị,Hương,1990-13-17,female,Hà Nội,VN,active\n",
            "001190123489,Nguyễn,Thị,Hương,17/05/1990,female,Hà Nội,VN,active\n",
            "001190123489,Nguyễn,Thị,Hương,1990-05-17,F,Hà Nội,VN,active\n",
            "001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,revoked\n",
            "001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN\n",
            "001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active,x\n",
        ] {
            let err = csv_err(bad);
            assert!(
                matches!(err, RegistryError::MalformedRow { row: 2, .. }),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn invalid_identities_name_the_row_and_rule() {
        for (bad, rule) in [
            (
                "00119012348,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active\n",
                CitizenError::WrongLength { found: 11 },
            ),
            (
                "003190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active\n",
                CitizenError::UnknownPlaceCode { code: 3 },
            ),
            (
                "001190123489,Nguyễn,Thị,Hương,1991-05-17,female,Hà Nội,VN,active\n",
                CitizenError::BirthDateMismatch { claimed_year: 1991 },
            ),
            (
                "001190123489,Nguyễn,Thị,Hương,1990-05-17,male,Hà Nội,VN,active\n",
                CitizenError::SexMismatch { claimed: Sex::Male },
            ),
            (
                "001190123489, ,Thị,Hương,1990-05-17,female,Hà Nội,VN,active\n",
                CitizenError::EmptyField {
                    field: "family name",
                },
            ),
            (
                "001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VNM,active\n",
                CitizenError::InvalidNationality,
            ),
        ] {
            match csv_err(bad) {
                RegistryError::InvalidRow { row: 2, source } => assert_eq!(source, rule),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_or_missing_columns_are_rejected() {
        let extra = "personal_id,family_name,middle_names,given_name,birth_date,sex,place_of_birth,nationality,status,phone\n001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active,1\n";
        let err = csv_records(extra.as_bytes()).find_map(Result::err).unwrap();
        assert!(
            matches!(err, RegistryError::MalformedRow { row: 1, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn good_json_loads_and_middle_names_are_optional() {
        let json = r#"[{"personal_id":"001190123489","family_name":"Nguyễn","given_name":"Hương",
            "birth_date":"1990-05-17","sex":"female","place_of_birth":"Hà Nội",
            "nationality":"VN","status":"deceased"}]"#;
        let records: Vec<_> = json_records(json.as_bytes())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records[0].identity.middle_names, "");
        assert_eq!(records[0].status, RecordStatus::Deceased);
    }

    #[test]
    fn bad_json_rows_name_the_row() {
        let good = r#"{"personal_id":"001190123489","family_name":"Nguyễn","given_name":"Hương","birth_date":"1990-05-17","sex":"female","place_of_birth":"Hà Nội","nationality":"VN","status":"active"}"#;
        for (bad, malformed) in [
            (good.replace("\"1990-05-17\"", "\"1990-5-17\""), true),
            (
                good.replace("\"status\":\"active\"", "\"status\":\"alive\""),
                true,
            ),
            (good.replace("\"sex\":\"female\",", ""), true),
            (good.replace("\"VN\"", "\"VN\",\"phone\":\"1\""), true),
            (good.replace("\"001190123489\"", "\"001190123A89\""), false),
        ] {
            let doc = format!("[{good},{bad}]");
            let err = json_records(doc.as_bytes())
                .unwrap()
                .find_map(Result::err)
                .unwrap();
            match err {
                RegistryError::MalformedRow { row: 2, .. } if malformed => {}
                RegistryError::InvalidRow {
                    row: 2,
                    source: CitizenError::NotADigit { position: 10 },
                } if !malformed => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_json_document_that_is_not_an_array_is_rejected() {
        for doc in ["{}", "[1,", "not json"] {
            assert!(matches!(
                json_records(doc.as_bytes()),
                Err(RegistryError::JsonDocument(_))
            ));
        }
    }
}
