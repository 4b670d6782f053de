//! DG1 of a TD1 card (the citizen ID card): its machine readable zone (ICAO 9303 part 10
//! §4.7.1, part 5 §4.2.2).

use super::ChipError;

/// Sex as printed in the MRZ (ICAO 9303 part 5 §4.2.2.2, line 2 position 8).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Sex {
    /// `M`.
    Male,
    /// `F`.
    Female,
    /// `<` or `X`.
    Unspecified,
}

/// The fields of a TD1 MRZ (3 lines of 30 characters, ICAO 9303 part 5 §4.2.2). Check digits
/// (part 3 §4.9) are verified; filler `<` is removed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Td1Mrz {
    /// Document code, line 1 positions 1–2 (`ID`, `I<`, …).
    pub document_code: String,
    /// Issuing state, line 1 positions 3–5 (`VNM`).
    pub issuing_state: String,
    /// Document number, line 1 positions 6–14.
    pub document_number: String,
    /// Optional data, line 1 positions 16–30.
    pub optional_data: String,
    /// The Vietnamese personal identification number: on the CCCD the optional data of line 1
    /// (positions 16–30) begins with the 12-digit number (a check digit may follow); `None`
    /// when the optional data does not begin with 12 digits.
    pub personal_id: Option<String>,
    /// Date of birth `YYMMDD`, line 2 positions 1–6 (unknown parts may be `<`).
    pub date_of_birth: String,
    /// Sex, line 2 position 8.
    pub sex: Sex,
    /// Date of expiry `YYMMDD`, line 2 positions 9–14.
    pub date_of_expiry: String,
    /// Nationality, line 2 positions 16–18.
    pub nationality: String,
    /// Primary identifier (surname), line 3 before `<<`, fillers as spaces.
    pub primary_identifier: String,
    /// Secondary identifier (given names), line 3 after `<<`, fillers as spaces.
    pub secondary_identifier: String,
}

fn malformed(what: &str) -> ChipError {
    ChipError::Malformed(format!("DG1: {what}"))
}

/// ICAO 9303 part 3 §4.9 check digit (weights 7, 3, 1; `<` is 0, `A`–`Z` are 10–35).
fn check_digit(field: &[u8]) -> Result<u8, ChipError> {
    let mut sum = 0u32;
    for (i, c) in field.iter().enumerate() {
        let value = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            b'<' => 0,
            _ => return Err(malformed("invalid MRZ character")),
        };
        sum += value * [7, 3, 1][i % 3];
    }
    Ok(b'0' + u8::try_from(sum % 10).unwrap_or(0))
}

fn checked(field: &[u8], digit: u8, what: &str) -> Result<(), ChipError> {
    // A field of fillers may carry a `<` check digit (part 3 §4.9).
    if (digit == b'<' && field.iter().all(|&c| c == b'<')) || check_digit(field)? == digit {
        Ok(())
    } else {
        Err(malformed(&format!("bad check digit for {what}")))
    }
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field)
        .trim_end_matches('<')
        .to_owned()
}

/// Reads one BER-TLV header (ICAO 9303 part 10 §4.1: tags of one or two bytes, definite
/// lengths), returning tag, value and the rest.
fn tlv(bytes: &[u8]) -> Option<(u16, &[u8], &[u8])> {
    let (&first, mut rest) = bytes.split_first()?;
    let mut tag = u16::from(first);
    if first & 0x1f == 0x1f {
        let (&second, r) = rest.split_first()?;
        tag = (tag << 8) | u16::from(second);
        rest = r;
    }
    let (&len0, mut rest) = rest.split_first()?;
    let len = match len0 {
        0..=0x7f => usize::from(len0),
        0x81 => {
            let (&l, r) = rest.split_first()?;
            rest = r;
            usize::from(l)
        }
        0x82 => {
            let (l, r) = rest.split_first_chunk::<2>()?;
            rest = r;
            usize::from(u16::from_be_bytes(*l))
        }
        _ => return None,
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Parses DG1 (`61 { 5F1F MRZ }`) of a TD1 document.
pub fn parse_dg1(dg1: &[u8]) -> Result<Td1Mrz, ChipError> {
    let (tag, value, rest) = tlv(dg1).ok_or_else(|| malformed("bad TLV"))?;
    if tag != 0x61 || !rest.is_empty() {
        return Err(malformed("not a DG1 (tag 0x61)"));
    }
    let (tag, mrz, _) = tlv(value).ok_or_else(|| malformed("bad TLV"))?;
    if tag != 0x5F1F {
        return Err(malformed("no MRZ (tag 0x5F1F)"));
    }
    if mrz.len() != 90 {
        return Err(malformed("not a TD1 MRZ (90 characters)"));
    }
    let (l1, rest) = mrz.split_at(30);
    let (l2, l3) = rest.split_at(30);
    checked(&l1[5..14], l1[14], "document number")?;
    checked(&l2[0..6], l2[6], "date of birth")?;
    checked(&l2[8..14], l2[14], "date of expiry")?;
    let composite: Vec<u8> = [&l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]].concat();
    checked(&composite, l2[29], "composite")?;
    let sex = match l2[7] {
        b'M' => Sex::Male,
        b'F' => Sex::Female,
        b'<' | b'X' => Sex::Unspecified,
        _ => return Err(malformed("bad sex")),
    };
    let optional_data = text(&l1[15..30]);
    let personal_id = optional_data
        .get(..12)
        .filter(|id| id.bytes().all(|c| c.is_ascii_digit()))
        .map(str::to_owned);
    let names = String::from_utf8_lossy(l3);
    let names = names.trim_end_matches('<');
    let (primary, secondary) = names.split_once("<<").unwrap_or((names, ""));
    Ok(Td1Mrz {
        document_code: text(&l1[0..2]),
        issuing_state: text(&l1[2..5]),
        document_number: text(&l1[5..14]),
        optional_data,
        personal_id,
        date_of_birth: String::from_utf8_lossy(&l2[0..6]).into_owned(),
        sex,
        date_of_expiry: String::from_utf8_lossy(&l2[8..14]).into_owned(),
        nationality: text(&l2[15..18]),
        primary_identifier: primary.replace('<', " "),
        secondary_identifier: secondary.replace('<', " "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ICAO 9303 part 5 appendix A, TD1 example.
    #[test]
    fn icao_example() {
        let mrz = b"I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        let mut dg1 = vec![0x61, 0x5d, 0x5f, 0x1f, 0x5a];
        dg1.extend_from_slice(mrz);
        let parsed = parse_dg1(&dg1).unwrap();
        assert_eq!(parsed.document_number, "D23145890");
        assert_eq!(parsed.date_of_birth, "740812");
        assert_eq!(parsed.sex, Sex::Female);
        assert_eq!(parsed.date_of_expiry, "120415");
        assert_eq!(parsed.nationality, "UTO");
        assert_eq!(parsed.primary_identifier, "ERIKSSON");
        assert_eq!(parsed.secondary_identifier, "ANNA MARIA");
        assert_eq!(parsed.personal_id, None);
        let mut bad = dg1.clone();
        bad[5 + 14] = b'8';
        assert!(matches!(parse_dg1(&bad), Err(ChipError::Malformed(_))));
    }
}
