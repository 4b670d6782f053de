//! `eid-ffi`: the C library over eid-core for legacy systems.
//!
//! This first version exports only [`eid_version`]; offline token and eKYC credential
//! verification, personal ID validation and password hashing arrive with issue 6, together
//! with the generated header `include/eid.h`.

use std::ffi::c_char;

/// The library version as a static NUL-terminated UTF-8 string. Never free it.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn eid_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: eid_version returns a pointer to a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(super::eid_version()) };
        assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    }
}
