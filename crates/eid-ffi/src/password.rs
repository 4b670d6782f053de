//! `eid_password_hash` / `eid_password_verify`: argon2id PHC strings, so legacy password
//! stores can move to the hashes this service uses.

use std::ffi::c_char;

use eid_core::credential::password::{Password, PasswordParams, Verification};

use crate::boundary::{Failure, Out, guard, opt_out, owned_string, str_arg};
use crate::status::eid_status;

/// Hashes `password` (UTF-8, 1 to 1024 bytes after Unicode NFC normalisation) with
/// argon2id, m = 19 MiB, t = 2, p = 1 (OWASP) and a fresh random salt. On success
/// `*phc_out` is the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) to store; free it
/// with `eid_string_free`. Takes tens of milliseconds on purpose.
///
/// Thread safety: may be called from any thread; each call uses 19 MiB while it runs.
///
/// # Safety
/// `password` is NULL or NUL-terminated; `phc_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_password_hash(
    password: *const c_char,
    phc_out: *mut *mut c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let out = unsafe { Out::new(phc_out, "phc_out", std::ptr::null_mut()) }?;
        let password = Password::new(unsafe { str_arg(password, "password") }?)?;
        out.set(owned_string(
            PasswordParams::default().hash_blocking(&password)?,
        )?);
        Ok(())
    })
}

/// Checks `password` against the argon2id PHC string `phc` (in constant time).
/// `EID_STATUS_OK` when it matches, `EID_STATUS_PASSWORD_MISMATCH` when not,
/// `EID_STATUS_INVALID_ARGUMENT` for a PHC string that is not argon2id or asks for more
/// than 1 GiB, 16 passes or 16 lanes. When it matches and `rehash_out` is not NULL,
/// `*rehash_out` is a new PHC string with the current parameters if `phc` used others
/// (store it in place of the old one; free it with `eid_string_free`), else NULL.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
/// `password` and `phc` are NULL or NUL-terminated; `rehash_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_password_verify(
    password: *const c_char,
    phc: *const c_char,
    rehash_out: *mut *mut c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (all blocks): the caller's contract stated above.
        let rehash_out = unsafe { opt_out(rehash_out, std::ptr::null_mut()) };
        let password = Password::new(unsafe { str_arg(password, "password") }?)?;
        let phc = unsafe { str_arg(phc, "phc") }?;
        match PasswordParams::default().verify_blocking(&password, phc)? {
            Verification::Invalid => Err(Failure::new(
                eid_status::PasswordMismatch,
                "the password does not match",
            )),
            Verification::Valid { rehash } => {
                if let (Some(out), Some(rehash)) = (rehash_out, rehash) {
                    out.set(owned_string(rehash)?);
                }
                Ok(())
            }
        }
    })
}
