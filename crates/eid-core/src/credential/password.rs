//! Passwords: argon2id PHC strings, hashed on a bounded blocking pool.
//!
//! * Parameters default to OWASP's argon2id recommendation (m = 19 MiB, t = 2, p = 1);
//!   stronger ones can be configured. A stored hash made with other parameters verifies
//!   as before and is re-hashed with the current ones ([`Verification::rehash`]).
//! * Hashing is CPU- and memory-heavy, so it never runs on the async runtime: at most
//!   `workers` hashes run at once on tokio's blocking pool and at most `queue` more wait;
//!   beyond that [`PasswordError::Overloaded`] is returned at once, so a flood of logins
//!   cannot exhaust threads or memory (each hash holds `m` KiB).
//! * Password inputs live in [`Password`], which zeroizes its buffer on drop and never
//!   prints its contents.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::PasswordVerifier;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, Version};
use tokio::sync::Semaphore;
use unicode_normalization::{UnicodeNormalization as _, is_nfc};
use zeroize::Zeroizing;

/// Longest password accepted, in bytes (UTF-8).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Errors from password handling.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The password is empty.
    #[error("password is empty")]
    Empty,
    /// The password is longer than [`MAX_PASSWORD_BYTES`].
    #[error("password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// The argon2 parameters are out of range.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// The stored hash is not an argon2id PHC string this library can read.
    #[error("stored password hash is not a valid argon2id PHC string")]
    MalformedHash,
    /// Too many hashes are running or waiting; try again later.
    #[error("too many password operations in progress")]
    Overloaded,
    /// Hashing failed or its worker was lost.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// A password given by a citizen: zeroized on drop, never printed.
///
/// Passwords are hashed in Unicode NFC (NIST SP 800-63B section 5.1.1.2), so the same
/// Vietnamese password typed on a system whose keyboard produces decomposed characters
/// (NFD, e.g. macOS) still matches.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password in NFC, rejecting empty and over-long input.
    pub fn new(password: impl Into<String>) -> Result<Self, PasswordError> {
        let raw = Zeroizing::new(password.into());
        let password = if is_nfc(&raw) {
            raw
        } else {
            Zeroizing::new(raw.nfc().collect())
        };
        if password.is_empty() {
            return Err(PasswordError::Empty);
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(password))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for PasswordParams {
    /// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Self {
            m_kib: Params::DEFAULT_M_COST,
            t: Params::DEFAULT_T_COST,
            p: Params::DEFAULT_P_COST,
        }
    }
}

impl PasswordParams {
    /// The costliest stored hash [`PasswordHasher::verify`] and [`Self::verify_blocking`]
    /// accept: 1 GiB of memory (libsodium's "sensitive" level), 16 passes, 16 lanes. A
    /// stored hash asking for more is refused as malformed rather than run.
    pub const MAX_STORED: PasswordParams = PasswordParams {
        m_kib: 1024 * 1024,
        t: 16,
        p: 16,
    };

    fn to_argon2(self) -> Result<Params, PasswordError> {
        Params::new(self.m_kib, self.t, self.p, None)
            .map_err(|e| PasswordError::Params(e.to_string()))
    }

    /// Hashes `password` with these parameters on the calling thread (for synchronous
    /// callers such as the C library; async code uses [`PasswordHasher`]).
    pub fn hash_blocking(self, password: &Password) -> Result<String, PasswordError> {
        hash_blocking(&self.to_argon2()?, password.bytes())
    }

    /// Checks `password` against the PHC string `stored` on the calling thread; a
    /// rehash is offered when `stored` was made with other parameters than these.
    pub fn verify_blocking(
        self,
        password: &Password,
        stored: &str,
    ) -> Result<Verification, PasswordError> {
        verify_blocking(&self.to_argon2()?, password, stored)
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    /// The password is right. `rehash` holds a new PHC string to store when the stored one
    /// was made with other parameters than the current ones.
    Valid {
        /// Replacement hash, when the stored one is outdated.
        rehash: Option<String>,
    },
    /// The password is wrong.
    Invalid,
}

/// Hashes and verifies passwords on a bounded pool. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Permits to run a hash now.
    workers: Arc<Semaphore>,
    /// Permits to be running or waiting.
    admitted: Arc<Semaphore>,
    /// A hash of a random value, checked when the account is unknown so that the answer
    /// takes as long as for a known account.
    dummy_hash: Arc<str>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("workers", &self.workers.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `params`, running at most `workers` hashes at once with at most
    /// `queue` more waiting.
    pub fn new(
        params: PasswordParams,
        workers: usize,
        queue: usize,
    ) -> Result<Self, PasswordError> {
        if workers == 0 {
            return Err(PasswordError::Params("workers must be at least 1".into()));
        }
        let params = params.to_argon2()?;
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        let dummy_hash = hash_blocking(&params, &secret)?;
        Ok(Self {
            params,
            workers: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers + queue)),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// A hasher with OWASP parameters and one worker per CPU core.
    pub fn with_defaults() -> Result<Self, PasswordError> {
        Self::per_core(PasswordParams::default())
    }

    /// A hasher with `params`, one worker per CPU core and 16 waiting per core.
    pub fn per_core(params: PasswordParams) -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(params, cores, cores * 16)
    }

    /// Hashes `password` into a PHC string with a fresh random salt.
    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        let params = self.params.clone();
        self.run(move || hash_blocking(&params, password.bytes()))
            .await
    }

    /// Checks `password` against the PHC string `stored`.
    pub async fn verify(
        &self,
        password: Password,
        stored: &str,
    ) -> Result<Verification, PasswordError> {
        let stored = stored.to_owned();
        let params = self.params.clone();
        self.run(move || verify_blocking(&params, &password, &stored))
            .await
    }

    /// Spends the same work as [`verify`](Self::verify) when the account does not exist,
    /// so response times do not reveal which personal ID numbers have accounts. Always
    /// answers [`Verification::Invalid`].
    pub async fn verify_unknown_account(
        &self,
        password: Password,
    ) -> Result<Verification, PasswordError> {
        let dummy = self.dummy_hash.clone();
        self.verify(password, &dummy).await?;
        Ok(Verification::Invalid)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| PasswordError::Overloaded)?;
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| PasswordError::Internal(e.to_string()))?;
        // The permits move into the blocking task: if the caller gives up (a client that
        // disconnects drops the request future), the hash still holds them until it ends,
        // so dropped requests cannot pile up hashes beyond the bound.
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, worker);
            work()
        })
        .await
        .map_err(|e| PasswordError::Internal(e.to_string()))?
    }
}

fn argon2id(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, PasswordError> {
    argon2id(params)
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Internal(e.to_string()))
}

fn verify_blocking(
    params: &Params,
    password: &Password,
    stored: &str,
) -> Result<Verification, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::MalformedHash)?;
    if parsed.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str() {
        return Err(PasswordError::MalformedHash);
    }
    let stored_params = Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;
    let max = PasswordParams::MAX_STORED;
    if stored_params.m_cost() > max.m_kib
        || stored_params.t_cost() > max.t
        || stored_params.p_cost() > max.p
    {
        return Err(PasswordError::MalformedHash);
    }
    // The stored hash's own parameters are used to verify it; argon2 compares the
    // output in constant time.
    if argon2id(&stored_params)
        .verify_password(password.bytes(), &parsed)
        .is_err()
    {
        return Ok(Verification::Invalid);
    }
    let current = stored_params.m_cost() == params.m_cost()
        && stored_params.t_cost() == params.t_cost()
        && stored_params.p_cost() == params.p_cost()
        && parsed.version == Some(Version::V0x13.into());
    let rehash = if current {
        None
    } else {
        Some(hash_blocking(params, password.bytes())?)
    };
    Ok(Verification::Valid { rehash })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so the tests run fast; the production defaults are tested once.
    fn fast() -> PasswordParams {
        PasswordParams {
            m_kib: 1024,
            t: 1,
            p: 1,
        }
    }

    fn pw(s: &str) -> Password {
        Password::new(s).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = PasswordHasher::new(fast(), 2, 8).unwrap();
        let phc = hasher.hash(pw("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert_eq!(
            hasher.verify(pw("correct horse"), &phc).await.unwrap(),
            Verification::Valid { rehash: None }
        );
        assert_eq!(
            hasher.verify(pw("wrong horse"), &phc).await.unwrap(),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn decomposed_input_matches_its_composed_form() {
        let hasher = PasswordHasher::new(fast(), 1, 1).unwrap();
        let phc = hasher.hash(pw("m\u{1EAD}t kh\u{1EA9}u")).await.unwrap(); // "mật khẩu", NFC
        let nfd = "ma\u{323}\u{302}t kha\u{302}\u{309}u";
        assert_eq!(
            hasher.verify(pw(nfd), &phc).await.unwrap(),
            Verification::Valid { rehash: None }
        );
        assert_eq!(
            hasher.verify(pw("mat khau"), &phc).await.unwrap(),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn defaults_are_owasp() {
        let hasher = PasswordHasher::new(PasswordParams::default(), 1, 1).unwrap();
        let phc = hasher.hash(pw("s3cret")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[tokio::test]
    async fn outdated_parameters_are_rehashed_on_login() {
        let old = PasswordHasher::new(fast(), 1, 1).unwrap();
        let phc = old.hash(pw("pässwörd")).await.unwrap();
        let stronger = PasswordParams { t: 2, ..fast() };
        let new = PasswordHasher::new(stronger, 1, 1).unwrap();
        let Verification::Valid {
            rehash: Some(rehash),
        } = new.verify(pw("pässwörd"), &phc).await.unwrap()
        else {
            panic!("expected a rehash");
        };
        assert!(rehash.contains("m=1024,t=2,p=1"), "{rehash}");
        assert_eq!(
            new.verify(pw("pässwörd"), &rehash).await.unwrap(),
            Verification::Valid { rehash: None }
        );
    }

    #[tokio::test]
    async fn bad_stored_hashes_are_errors() {
        let hasher = PasswordHasher::new(fast(), 1, 1).unwrap();
        for stored in [
            "",
            "plaintext",
            "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$2b$12$abcdefghijklmnopqrstuv",
        ] {
            assert!(
                matches!(
                    hasher.verify(pw("x"), stored).await,
                    Err(PasswordError::MalformedHash)
                ),
                "{stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_account_is_always_invalid() {
        let hasher = PasswordHasher::new(fast(), 1, 1).unwrap();
        assert_eq!(
            hasher.verify_unknown_account(pw("anything")).await.unwrap(),
            Verification::Invalid
        );
    }

    #[test]
    fn bad_inputs_are_rejected() {
        assert!(matches!(Password::new(""), Err(PasswordError::Empty)));
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(Password::new(long), Err(PasswordError::TooLong)));
        assert!(Password::new("a".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert_eq!(format!("{:?}", pw("hunter2")), "Password(***)");
        let bad = PasswordParams { m_kib: 1, ..fast() };
        assert!(matches!(
            PasswordHasher::new(bad, 1, 1),
            Err(PasswordError::Params(_))
        ));
        assert!(PasswordHasher::new(fast(), 0, 1).is_err());
    }

    /// Occupies the hasher's only permit with work that ends when the returned sender is
    /// used or dropped, and waits until the permit is taken.
    async fn occupy(hasher: &PasswordHasher) -> (std::sync::mpsc::Sender<()>, JoinHandle) {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let busy = hasher.clone();
        let request = tokio::spawn(async move {
            busy.run(move || {
                let _ = gate.recv();
                Ok(())
            })
            .await
        });
        while hasher.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        (release, request)
    }

    type JoinHandle = tokio::task::JoinHandle<Result<(), PasswordError>>;

    #[tokio::test]
    async fn flood_beyond_the_queue_is_refused() {
        // One worker and no queue: while a hash runs, a second request is refused at once.
        let hasher = PasswordHasher::new(fast(), 1, 0).unwrap();
        let (release, request) = occupy(&hasher).await;
        assert!(matches!(
            hasher.hash(pw("two")).await,
            Err(PasswordError::Overloaded)
        ));
        release.send(()).unwrap();
        assert!(request.await.unwrap().is_ok());
        assert!(hasher.hash(pw("three")).await.is_ok());
    }

    #[tokio::test]
    async fn abandoned_requests_keep_their_permits_until_the_work_ends() {
        let hasher = PasswordHasher::new(fast(), 1, 0).unwrap();
        let (release, request) = occupy(&hasher).await;
        // The caller gives up, as when a client disconnects; its work still runs.
        request.abort();
        assert!(matches!(
            hasher.hash(pw("next")).await,
            Err(PasswordError::Overloaded)
        ));
        drop(release);
        while hasher.admitted.available_permits() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(hasher.hash(pw("after")).await.is_ok());
    }

    #[test]
    fn blocking_hash_and_verify_match_the_async_ones() {
        let phc = fast().hash_blocking(&pw("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert_eq!(
            fast().verify_blocking(&pw("correct horse"), &phc).unwrap(),
            Verification::Valid { rehash: None }
        );
        assert_eq!(
            fast().verify_blocking(&pw("wrong horse"), &phc).unwrap(),
            Verification::Invalid
        );
        let stronger = PasswordParams { t: 2, ..fast() };
        assert!(matches!(
            stronger.verify_blocking(&pw("correct horse"), &phc),
            Ok(Verification::Valid { rehash: Some(_) })
        ));
    }

    #[test]
    fn stored_hashes_beyond_the_cost_limits_are_refused() {
        let phc = fast().hash_blocking(&pw("pw")).unwrap();
        let salt_and_hash = phc.rsplitn(3, '$').take(2).collect::<Vec<_>>();
        for params in ["m=2097152,t=1,p=1", "m=1024,t=17,p=1", "m=1024,t=1,p=17"] {
            let costly = format!(
                "$argon2id$v=19${params}${}${}",
                salt_and_hash[1], salt_and_hash[0]
            );
            assert!(
                matches!(
                    fast().verify_blocking(&pw("pw"), &costly),
                    Err(PasswordError::MalformedHash)
                ),
                "{costly}"
            );
        }
    }
}
