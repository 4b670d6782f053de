//! `eid_claims`: the claims of a verified token or eKYC credential, with typed getters.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use eid_core::assurance::Loa;
use eid_core::credential::sdjwt::VerifiedSdJwtVc;
use eid_core::token::{VerifiedKind, VerifiedToken};
use serde_json::{Map, Value};

use crate::boundary::{Failure, Out, guard, handle, owned_string, str_arg};
use crate::status::eid_status;

/// A level of assurance: one of the `EID_LOA_` constants.
#[allow(non_camel_case_types)]
pub type eid_loa = u32;
/// No level: as `min_loa`, no requirement.
pub const EID_LOA_NONE: eid_loa = 0;
/// eIDAS low (national level 1 account).
pub const EID_LOA_LOW: eid_loa = 1;
/// eIDAS substantial (national level 2 account).
pub const EID_LOA_SUBSTANTIAL: eid_loa = 2;
/// eIDAS high (level 2 with the chip card).
pub const EID_LOA_HIGH: eid_loa = 3;

/// What was verified.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum eid_kind {
    /// Nothing: what `eid_claims_kind` leaves when it fails.
    None = 0,
    /// An OpenID Connect ID token.
    IdToken = 1,
    /// An RFC 9068 JWT access token.
    AccessToken = 2,
    /// An eKYC credential (SD-JWT VC) with its disclosed claims.
    EkycCredential = 3,
}

/// The string claims with a typed getter, in the order of [`eid_claims::texts`].
#[derive(Clone, Copy)]
enum Text {
    Sub,
    Acr,
    Name,
    FamilyName,
    GivenName,
    MiddleName,
    Birthdate,
    PersonalId,
}

impl Text {
    const ALL: [Text; 8] = [
        Text::Sub,
        Text::Acr,
        Text::Name,
        Text::FamilyName,
        Text::GivenName,
        Text::MiddleName,
        Text::Birthdate,
        Text::PersonalId,
    ];

    /// The claim names holding it: tokens carry `personal_id`, eKYC credentials
    /// `personal_administrative_number` (the EU PID's name).
    fn names(self) -> &'static [&'static str] {
        match self {
            Text::Sub => &["sub"],
            Text::Acr => &["acr"],
            Text::Name => &["name"],
            Text::FamilyName => &["family_name"],
            Text::GivenName => &["given_name"],
            Text::MiddleName => &["middle_name"],
            Text::Birthdate => &["birthdate"],
            Text::PersonalId => &["personal_id", "personal_administrative_number"],
        }
    }
}

/// The claims of a verified token or credential. Opaque; made by `eid_verify_token` or
/// `eid_ekyc_verify`, freed by `eid_claims_free`. Read-only, so it may be read from
/// several threads at once.
#[allow(non_camel_case_types)]
pub struct eid_claims {
    kind: eid_kind,
    loa: Option<Loa>,
    claims: Map<String, Value>,
    /// Which claim holds each typed string claim, indexed by [`Text`] (checked to be a
    /// string without NUL).
    found: [Option<&'static str>; Text::ALL.len()],
    /// NUL-terminated copies of the typed string claims, made by the first getter call
    /// (most callers read a few; copying all at verification cost a tenth of the C
    /// path's overhead).
    texts: [OnceLock<CString>; Text::ALL.len()],
    amr: Vec<CString>,
    status_uri: Option<CString>,
    /// The verified credential (without its claims, which are in `claims`), for the
    /// status check.
    pub(crate) credential: Option<VerifiedSdJwtVc>,
}

impl eid_claims {
    pub(crate) fn from_token(token: VerifiedToken) -> Result<Self, Failure> {
        let kind = match token.kind {
            VerifiedKind::IdToken => eid_kind::IdToken,
            VerifiedKind::AccessToken => eid_kind::AccessToken,
        };
        Self::new(kind, token.loa, token.claims, None)
    }

    pub(crate) fn from_credential(mut credential: VerifiedSdJwtVc) -> Result<Self, Failure> {
        let claims = std::mem::take(&mut credential.claims);
        Self::new(eid_kind::EkycCredential, None, claims, Some(credential))
    }

    /// Checks the typed claims, refusing a token whose typed claims are not NUL-free
    /// strings (a verified issuer never sends such claims).
    fn new(
        kind: eid_kind,
        loa: Option<Loa>,
        claims: Map<String, Value>,
        credential: Option<VerifiedSdJwtVc>,
    ) -> Result<Self, Failure> {
        let text = |name: &str, value: &Value| {
            value
                .as_str()
                .and_then(|s| CString::new(s).ok())
                .ok_or_else(|| {
                    Failure::new(
                        eid_status::MalformedToken,
                        format!("claim {name} is not a string"),
                    )
                })
        };
        let mut found = [None; Text::ALL.len()];
        for field in Text::ALL {
            let holder = field
                .names()
                .iter()
                .find_map(|name| claims.get(*name).map(|value| (*name, value)));
            if let Some((name, value)) = holder {
                if value.as_str().is_none_or(|s| s.contains('\0')) {
                    return Err(Failure::new(
                        eid_status::MalformedToken,
                        format!("claim {name} is not a string"),
                    ));
                }
                found[field as usize] = Some(name);
            }
        }
        let amr = match claims.get("amr") {
            None => Vec::new(),
            Some(Value::Array(values)) => values
                .iter()
                .map(|value| text("amr", value))
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(Failure::new(
                    eid_status::MalformedToken,
                    "claim amr is not an array",
                ));
            }
        };
        let status_uri = match credential.as_ref().and_then(|c| c.status.as_ref()) {
            Some(status) => Some(text("status", &Value::from(status.uri.as_str()))?),
            None => None,
        };
        Ok(Self {
            kind,
            loa,
            claims,
            found,
            texts: Default::default(),
            amr,
            status_uri,
            credential,
        })
    }

    /// The `nonce` claim, if it is a string.
    pub(crate) fn nonce(&self) -> Option<&str> {
        self.claims.get("nonce").and_then(Value::as_str)
    }

    fn integer(&self, name: &str) -> Result<i64, Failure> {
        self.claims
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| not_present(name))
    }
}

impl Drop for eid_claims {
    /// Wipes the personal data (names, birthdate, personal ID...) before the memory is
    /// given back.
    fn drop(&mut self) {
        let texts = self.texts.iter_mut().filter_map(OnceLock::get_mut);
        for text in texts.chain(&mut self.amr) {
            wipe_c_string(text);
        }
        if let Some(uri) = &mut self.status_uri {
            wipe_c_string(uri);
        }
        for value in self.claims.values_mut() {
            wipe(value);
        }
    }
}

/// Zeroes the strings of a JSON value.
fn wipe(value: &mut Value) {
    match value {
        // SAFETY: only zero bytes are written, which keeps the string valid UTF-8.
        Value::String(text) => wipe_bytes(unsafe { text.as_mut_vec() }),
        Value::Array(values) => values.iter_mut().for_each(wipe),
        Value::Object(members) => members.values_mut().for_each(wipe),
        _ => {}
    }
}

fn wipe_c_string(text: &mut CString) {
    wipe_bytes(&mut std::mem::take(text).into_bytes());
}

/// Overwrites `bytes` with zeros in one `memset`, which `black_box` keeps from being
/// optimised away: best effort, as C's `explicit_bzero`, for personal data. (`zeroize`,
/// used for passwords and keys, writes byte by byte with volatile stores: about 1 µs
/// per token here, over a tenth of the verification's overhead.)
fn wipe_bytes(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

fn not_present(name: &str) -> Failure {
    Failure::new(eid_status::NotPresent, format!("no {name} claim"))
}

/// Writes a borrowed typed string claim to `out`.
///
/// # Safety
/// `claims` is NULL or a live handle; `out` is NULL or writable.
unsafe fn text_getter(
    claims: *const eid_claims,
    field: Text,
    out: *mut *const c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): forwarded from the public getters' contracts.
        let out = unsafe { Out::new(out, "out", std::ptr::null()) }?;
        let claims = unsafe { handle(claims, "claims") }?;
        let name = claims.found[field as usize].ok_or_else(|| not_present(field.names()[0]))?;
        let value = claims.texts[field as usize].get_or_init(|| {
            // Checked in `eid_claims::new`: a string without NUL.
            let text = claims.claims[name].as_str().unwrap_or_default();
            CString::new(text).unwrap_or_default()
        });
        out.set(value.as_ptr());
        Ok(())
    })
}

/// Writes an integer claim to `out`.
///
/// # Safety
/// `claims` is NULL or a live handle; `out` is NULL or writable.
unsafe fn integer_getter(claims: *const eid_claims, name: &str, out: *mut i64) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): forwarded from the public getters' contracts.
        let out = unsafe { Out::new(out, "out", 0) }?;
        let claims = unsafe { handle(claims, "claims") }?;
        out.set(claims.integer(name)?);
        Ok(())
    })
}

/// Frees claims. NULL is ignored.
///
/// Thread safety: no other thread may be using the claims.
///
/// # Safety
/// `claims` is NULL or a live handle, not used afterwards (nor any string borrowed
/// from it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_free(claims: *mut eid_claims) {
    if !claims.is_null() {
        // SAFETY: made by Box::into_raw in this library and freed once.
        drop(unsafe { Box::from_raw(claims) });
    }
}

/// What was verified: `EID_KIND_ID_TOKEN`, `EID_KIND_ACCESS_TOKEN` or
/// `EID_KIND_EKYC_CREDENTIAL`.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `kind_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_kind(
    claims: *const eid_claims,
    kind_out: *mut eid_kind,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let out = unsafe { Out::new(kind_out, "kind_out", eid_kind::None) }?;
        out.set(unsafe { handle(claims, "claims") }?.kind);
        Ok(())
    })
}

/// The level of assurance the token's `acr` names (`EID_LOA_LOW`, `_SUBSTANTIAL` or
/// `_HIGH`); `EID_STATUS_NOT_PRESENT` (and `EID_LOA_NONE`) when it has no `acr` or one
/// this library does not know, and for eKYC credentials.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `loa_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_loa(
    claims: *const eid_claims,
    loa_out: *mut eid_loa,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let out = unsafe { Out::new(loa_out, "loa_out", EID_LOA_NONE) }?;
        let claims = unsafe { handle(claims, "claims") }?;
        out.set(match claims.loa.ok_or_else(|| not_present("known acr"))? {
            Loa::Low => EID_LOA_LOW,
            Loa::Substantial => EID_LOA_SUBSTANTIAL,
            Loa::High => EID_LOA_HIGH,
        });
        Ok(())
    })
}

/// `sub`: the citizen's identifier at this relying party (pairwise). In an access token
/// of the client-credentials grant there is no citizen and `sub` is the client id (as
/// `client_id`): compare the two before taking `sub` for a citizen. Borrowed: valid
/// until `eid_claims_free`. `EID_STATUS_NOT_PRESENT` (and NULL) when absent; likewise
/// for every string getter below.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_sub(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::Sub, out) }
}

/// `acr`: the level of assurance as the issuer names it (for example
/// `http://eidas.europa.eu/LoA/substantial`). Borrowed.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_sub`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_acr(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::Acr, out) }
}

/// `name`: the full name (Vietnamese order: family, middle, given). Borrowed.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_sub`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_name(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::Name, out) }
}

/// `family_name`. Borrowed.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_sub`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_family_name(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::FamilyName, out) }
}

/// `given_name` (in an eKYC credential: middle and given names together). Borrowed.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_sub`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_given_name(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::GivenName, out) }
}

/// `middle_name`. Borrowed.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_sub`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_middle_name(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::MiddleName, out) }
}

/// `birthdate`, `YYYY-MM-DD`. Borrowed.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_sub`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_birthdate(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::Birthdate, out) }
}

/// The 12-digit personal ID number: the `personal_id` claim of a token (released only
/// to services entitled to it) or the `personal_administrative_number` of an eKYC
/// credential. Borrowed.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_sub`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_personal_id(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { text_getter(claims, Text::PersonalId, out) }
}

/// `exp`: expiry, unix seconds.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_exp(claims: *const eid_claims, out: *mut i64) -> eid_status {
    // SAFETY: same contract.
    unsafe { integer_getter(claims, "exp", out) }
}

/// `auth_time`: when the citizen authenticated, unix seconds.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// As for `eid_claims_exp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_auth_time(
    claims: *const eid_claims,
    out: *mut i64,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { integer_getter(claims, "auth_time", out) }
}

/// How many `amr` values (RFC 8176 authentication methods) the token has; 0 when none.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `count_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_amr_count(
    claims: *const eid_claims,
    count_out: *mut usize,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let out = unsafe { Out::new(count_out, "count_out", 0) }?;
        out.set(unsafe { handle(claims, "claims") }?.amr.len());
        Ok(())
    })
}

/// The `amr` value at `index` (below `eid_claims_amr_count`), for example `pwd`, `hwk`,
/// `mfa`. Borrowed. An index out of range is `EID_STATUS_INVALID_ARGUMENT`.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_amr(
    claims: *const eid_claims,
    index: usize,
    out: *mut *const c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let out = unsafe { Out::new(out, "out", std::ptr::null()) }?;
        let claims = unsafe { handle(claims, "claims") }?;
        let value = claims
            .amr
            .get(index)
            .ok_or_else(|| Failure::invalid(format!("amr index {index} is out of range")))?;
        out.set(value.as_ptr());
        Ok(())
    })
}

/// Any string claim by name (for example `nonce`, `vct`, `scope`, `client_id`), as a
/// new string the caller frees with `eid_string_free`. `EID_STATUS_NOT_PRESENT` when
/// absent; `EID_STATUS_INVALID_ARGUMENT` when the claim is not a string;
/// `EID_STATUS_MALFORMED_TOKEN` when it contains a NUL character.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `name` is NULL or NUL-terminated; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_string(
    claims: *const eid_claims,
    name: *const c_char,
    out: *mut *mut c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (all blocks): the caller's contract stated above.
        let out = unsafe { Out::new(out, "out", std::ptr::null_mut()) }?;
        let claims = unsafe { handle(claims, "claims") }?;
        let name = unsafe { str_arg(name, "name") }?;
        let value = claims.claims.get(name).ok_or_else(|| not_present(name))?;
        let value = value
            .as_str()
            .ok_or_else(|| Failure::invalid(format!("claim {name} is not a string")))?;
        out.set(owned_string(value.to_owned())?);
        Ok(())
    })
}

/// All the claims as a JSON object (for a credential: its plain and disclosed claims),
/// as a new string the caller frees with `eid_string_free`.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `json_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_json(
    claims: *const eid_claims,
    json_out: *mut *mut c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let out = unsafe { Out::new(json_out, "json_out", std::ptr::null_mut()) }?;
        let claims = unsafe { handle(claims, "claims") }?;
        let json = serde_json::to_string(&claims.claims)
            .map_err(|e| Failure::new(eid_status::Internal, e.to_string()))?;
        out.set(owned_string(json)?);
        Ok(())
    })
}

/// The status list URI of an eKYC credential (where to fetch the Status List Token for
/// `eid_ekyc_check_status`). Borrowed. `EID_STATUS_NOT_PRESENT` for a credential
/// without status and for tokens.
///
/// Thread safety: any thread; the claims are read-only.
///
/// # Safety
/// `claims` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_claims_status_uri(
    claims: *const eid_claims,
    out: *mut *const c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let out = unsafe { Out::new(out, "out", std::ptr::null()) }?;
        let claims = unsafe { handle(claims, "claims") }?;
        let uri = claims
            .status_uri
            .as_ref()
            .ok_or_else(|| not_present("status"))?;
        out.set(uri.as_ptr());
        Ok(())
    })
}
