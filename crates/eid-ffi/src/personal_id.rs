//! `eid_personal_id_validate`: the 12-digit personal identification number.

use std::ffi::c_char;

use eid_core::citizen::CitizenError;
use eid_core::citizen::PersonalId;

use crate::boundary::{Failure, guard, opt_out, str_arg};
use crate::status::eid_status;

/// Why a personal ID number is not valid.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum eid_id_problem {
    /// The number is valid.
    None = 0,
    /// It does not have exactly 12 characters.
    WrongLength = 1,
    /// A character is not an ASCII digit (`eid_last_error` names the position).
    NotADigit = 2,
    /// The first three digits name no province or country of birth registration.
    UnknownPlace = 3,
}

/// Checks a personal ID number (`PPP G YY RRRRRR`: registration place, century and sex,
/// birth year, random part; there is no check digit). `EID_STATUS_OK` when valid;
/// `EID_STATUS_INVALID_PERSONAL_ID` when not, with the reason in `*problem_out` (when
/// `problem_out` is not NULL) and in `eid_last_error` (the length found, or the position
/// of the first non-digit; never digits of the number).
///
/// Thread safety: may be called from any thread.
///
/// # Safety
/// `id` is NULL or NUL-terminated; `problem_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_personal_id_validate(
    id: *const c_char,
    problem_out: *mut eid_id_problem,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let problem_out = unsafe { opt_out(problem_out, eid_id_problem::None) };
        let id = unsafe { str_arg(id, "id") }?;
        let Err(error) = PersonalId::parse(id) else {
            return Ok(());
        };
        // The messages name a length or a position, never digits of the number.
        let (problem, message) = match error {
            CitizenError::WrongLength { .. } => (eid_id_problem::WrongLength, error.to_string()),
            CitizenError::NotADigit { .. } => (eid_id_problem::NotADigit, error.to_string()),
            CitizenError::UnknownPlaceCode { .. } => (
                eid_id_problem::UnknownPlace,
                "the first three digits name no known birth registration place".to_owned(),
            ),
            other => return Err(Failure::new(eid_status::Internal, other.to_string())),
        };
        if let Some(out) = problem_out {
            out.set(problem);
        }
        Err(Failure::new(eid_status::InvalidPersonalId, message))
    })
}
