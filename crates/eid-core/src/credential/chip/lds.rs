//! The Document Security Object's content, `LDSSecurityObject` (ICAO 9303 part 10 §4.6.2,
//! part 11 appendix to §5).

use der::asn1::{ObjectIdentifier, OctetString, PrintableString};
use der::{Enumerated, Sequence};
use x509_cert::spki::AlgorithmIdentifierOwned;

/// `id-icao-mrtd-security-ldsSecurityObject`, the `eContentType` of a SOD (ICAO 9303 part 10
/// §4.6.2.2).
pub const LDS_SECURITY_OBJECT_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.23.136.1.1.1");

/// `LDSSecurityObjectVersion`: v0 for LDS 1.7, v1 when `ldsVersionInfo` is present (LDS 1.8).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Enumerated)]
#[asn1(type = "INTEGER")]
#[repr(u8)]
pub enum LdsVersion {
    /// No `ldsVersionInfo`.
    V0 = 0,
    /// `ldsVersionInfo` present.
    V1 = 1,
}

/// `DataGroupHash ::= SEQUENCE { dataGroupNumber, dataGroupHashValue }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct DataGroupHash {
    /// `DataGroupNumber ::= INTEGER` (1..16).
    pub data_group_number: u8,
    /// The hash of the whole data group (tag, length and value) as read from the chip.
    pub data_group_hash_value: OctetString,
}

/// `LDSVersionInfo ::= SEQUENCE { ldsVersion, unicodeVersion }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct LdsVersionInfo {
    /// For example `"0108"`.
    pub lds_version: PrintableString,
    /// For example `"040000"`.
    pub unicode_version: PrintableString,
}

/// `LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues,
/// ldsVersionInfo OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct LdsSecurityObject {
    /// Structure version.
    pub version: LdsVersion,
    /// The algorithm of every `dataGroupHashValue`.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// One hash per data group present on the chip.
    pub data_group_hash_values: Vec<DataGroupHash>,
    /// LDS and Unicode versions (v1 only).
    #[asn1(optional = "true")]
    pub lds_version_info: Option<LdsVersionInfo>,
}
