//! The boundary every entry point crosses: panics caught, failures turned into a status
//! and a thread-local message, arguments checked before use.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::mem::size_of;
use std::panic::{AssertUnwindSafe, catch_unwind};

use zeroize::Zeroize;

use crate::status::eid_status;

thread_local! {
    /// The message of the last call on this thread; empty after a success.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Why a call failed: its status and a message for `eid_last_error`. Messages never
/// hold secrets or personal data (no token, password or personal ID).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: eid_status,
    message: String,
}

impl Failure {
    pub(crate) fn new(status: eid_status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(eid_status::InvalidArgument, message)
    }

    /// Prefixes the message with what was being checked.
    pub(crate) fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

/// What an entry point's body returns.
pub(crate) type Outcome = Result<(), Failure>;

/// Runs an entry point's body: a panic becomes [`eid_status::Panic`] instead of crossing
/// the `extern "C"` boundary (which would abort the host process since Rust 1.81), and
/// the outcome is recorded for `eid_last_error`.
pub(crate) fn guard(body: impl FnOnce() -> Outcome) -> eid_status {
    // A panic leaves no shared state half-updated: handles change only through
    // `RwLock`s that recover from poisoning, so asserting unwind safety is sound.
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => (eid_status::Ok, String::new()),
        Ok(Err(failure)) => (failure.status, failure.message),
        Err(_) => (
            eid_status::Panic,
            "internal error: the library panicked and the call had no effect".to_owned(),
        ),
    };
    set_last_error(message);
    status
}

fn set_last_error(message: String) {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // `try_with` fails only while the thread is being torn down; nothing to record then.
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = message);
}

/// The thread's last message as a pointer into thread-local storage.
pub(crate) fn last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// The largest string argument accepted (tokens, JWKS documents, presentations).
pub(crate) const MAX_ARG_LEN: usize = 1024 * 1024;

/// A required UTF-8 string argument named `name`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    // SAFETY: the caller's contract, checked for NULL here.
    unsafe { opt_str_arg(ptr, name) }?.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// An optional UTF-8 string argument: NULL is `None`.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string living for 'a.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.len() > MAX_ARG_LEN {
        return Err(Failure::invalid(format!(
            "{name} is longer than {MAX_ARG_LEN} bytes"
        )));
    }
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Failure::invalid(format!("{name} is not valid UTF-8")))
}

/// A required handle argument.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract; NULL becomes an error.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// An out-parameter: checked for NULL and set to `initial` before any other work, so the
/// caller finds a defined value (NULL, 0) whatever the outcome.
pub(crate) struct Out<'a, T>(&'a mut T);

impl<'a, T> Out<'a, T> {
    /// # Safety
    /// `ptr` is NULL or valid for writing a `T` and outlives `'a`.
    pub(crate) unsafe fn new(ptr: *mut T, name: &str, initial: T) -> Result<Self, Failure> {
        if ptr.is_null() {
            return Err(Failure::invalid(format!("{name} is NULL")));
        }
        // SAFETY: non-NULL and writable per the caller's contract; `write` does not read
        // (or drop) what the caller left there.
        unsafe {
            ptr.write(initial);
            Ok(Self(&mut *ptr))
        }
    }

    pub(crate) fn set(self, value: T) {
        *self.0 = value;
    }
}

/// An optional out-parameter: NULL means the caller does not want the value.
///
/// # Safety
/// As for [`Out::new`].
pub(crate) unsafe fn opt_out<'a, T>(ptr: *mut T, initial: T) -> Option<Out<'a, T>> {
    // SAFETY: forwarded contract.
    unsafe { Out::new(ptr, "", initial) }.ok()
}

/// Moves `value` into a heap handle the caller owns.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Bytes before each owned string: its allocation's length, so that freeing never
/// depends on `strlen` (a caller may have written a NUL into the string, e.g. with
/// `strtok`).
const LENGTH_PREFIX: usize = size_of::<usize>();

/// A string the caller owns and frees with `eid_string_free`: one allocation holding
/// its total length, then the bytes and a NUL.
pub(crate) fn owned_string(value: String) -> Result<*mut c_char, Failure> {
    let value = zeroize::Zeroizing::new(value);
    if value.as_bytes().contains(&0) {
        return Err(Failure::new(
            eid_status::MalformedToken,
            "value contains a NUL character",
        ));
    }
    let total = LENGTH_PREFIX + value.len() + 1;
    let mut buffer = Vec::with_capacity(total);
    buffer.extend_from_slice(&total.to_ne_bytes());
    buffer.extend_from_slice(value.as_bytes());
    buffer.push(0);
    let buffer: *mut [u8] = Box::into_raw(buffer.into_boxed_slice());
    // SAFETY: the allocation is `total` bytes long; the string starts after the prefix.
    Ok(unsafe { buffer.cast::<u8>().add(LENGTH_PREFIX) }.cast())
}

/// Frees a string made by [`owned_string`], wiping the whole allocation first (it may
/// hold a password hash or personal data).
///
/// # Safety
/// `ptr` is NULL or came from [`owned_string`] and was not freed before.
pub(crate) unsafe fn free_owned_string(ptr: *mut c_char) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` is LENGTH_PREFIX bytes into an allocation of the length stored
    // there, made by Box<[u8]> in owned_string and freed once.
    unsafe {
        let start = ptr.cast::<u8>().sub(LENGTH_PREFIX);
        let total = usize::from_ne_bytes(start.cast::<[u8; LENGTH_PREFIX]>().read());
        let mut buffer = Box::from_raw(std::ptr::slice_from_raw_parts_mut(start, total));
        buffer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last() -> String {
        // SAFETY: last_error never returns NULL and the string lives until the next call.
        unsafe { CStr::from_ptr(last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        assert_eq!(guard(|| panic!("boom")), eid_status::Panic);
        assert!(last().contains("panicked"), "{}", last());
        assert_eq!(guard(|| Ok(())), eid_status::Ok);
        assert_eq!(last(), "");
    }

    #[test]
    fn messages_are_per_thread() {
        guard(|| Err(Failure::invalid("main thread")));
        std::thread::spawn(|| {
            assert_eq!(last(), "");
            guard(|| Err(Failure::invalid("other thread")));
            assert_eq!(last(), "other thread");
        })
        .join()
        .unwrap();
        assert_eq!(last(), "main thread");
    }

    #[test]
    fn nul_bytes_in_messages_do_not_truncate_or_fail() {
        guard(|| Err(Failure::invalid("a\0b")));
        assert_eq!(last(), "a b");
    }

    #[test]
    fn owned_strings_free_whatever_the_caller_wrote_into_them() {
        let text = owned_string("a,b,c".to_owned()).unwrap();
        // SAFETY: a live owned string of 5 bytes plus its NUL.
        unsafe {
            assert_eq!(CStr::from_ptr(text).to_str(), Ok("a,b,c"));
            *text.add(1) = 0; // what strtok does
            assert_eq!(CStr::from_ptr(text).to_str(), Ok("a"));
            free_owned_string(text);
            free_owned_string(std::ptr::null_mut());
        }
        assert!(owned_string("a\0b".to_owned()).is_err());
        let empty = owned_string(String::new()).unwrap();
        // SAFETY: a live owned empty string.
        unsafe {
            assert_eq!(CStr::from_ptr(empty).to_bytes(), b"");
            free_owned_string(empty);
        }
    }
}
