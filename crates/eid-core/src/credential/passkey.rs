//! Passkeys (WebAuthn credentials) with `webauthn-rs`: registration and authentication
//! ceremonies whose state lives in the ephemeral store.
//!
//! # Ceremony state
//!
//! A ceremony has two halves: `start_*` sends the browser a challenge, `finish_*` checks
//! the browser's answer against the state kept from the start. That state is serialised
//! (webauthn-rs feature `danger-allow-state-serialisation`) into the ephemeral store, so a
//! ceremony started on one instance can finish on another. This is safe here because:
//!
//! * the state never leaves the server: the browser gets only a random ceremony id (256
//!   bits), and the store key is its SHA-256;
//! * it is **taken** (atomic get-and-delete) when the answer arrives, so it is used at most
//!   once: webauthn-rs itself would accept a second finish with the same state (W3C
//!   WebAuthn Level 3 section 13.4.3 requires the challenge to be used once: that is ours);
//! * it expires after the ceremony lifetime;
//! * it records what it was started for (the account enrolling, or the login flow), and a
//!   finish for anything else fails.
//!
//! # Policy
//!
//! User verification is required in every ceremony (webauthn-rs passkeys always require
//! it), so a passkey login is two factors ([`Authenticator::PasskeyUserVerified`]).
//! Discoverable credentials (resident keys) are *preferred* at registration so that the
//! citizen can log in without typing their number; webauthn-rs's passkey registration
//! asks for `discouraged`, so [`Passkeys::start_registration`] changes the option (the
//! library does not check it at finish). A signature counter that does not grow is the
//! WebAuthn signal of a cloned authenticator (section 6.1.1): checked against the stored
//! counter when the answer arrives, the login is refused with
//! [`PasskeyError::PossibleClone`] for the caller to audit.
//!
//! [`Authenticator::PasskeyUserVerified`]: crate::assurance::Authenticator::PasskeyUserVerified

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use url::Url;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Credential, DiscoverableAuthentication,
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::store::{AccountId, DurableStore, EphemeralStore, NewPasskey, PasskeyId, StoreError};
use crate::token::OpaqueToken;

/// The default lifetime of a ceremony (the browser's timeout is the same).
pub const DEFAULT_CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Largest browser answer accepted (a registration with a large attestation is ~2 KB).
pub const MAX_RESPONSE: usize = 16 * 1024;

/// Why a passkey ceremony failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying party settings are unusable (RP ID not the origin's host, bad origin).
    #[error("invalid WebAuthn relying party settings: {0}")]
    Config(String),
    /// No such ceremony: expired, already finished (a replay), or never started.
    #[error("the passkey ceremony has expired or was already used")]
    Expired,
    /// The ceremony was started for another account or flow.
    #[error("the passkey ceremony belongs to another request")]
    WrongContext,
    /// The browser's answer is not a WebAuthn credential in JSON.
    #[error("malformed WebAuthn response")]
    Malformed,
    /// The credential is not registered here (or was deleted).
    #[error("unknown passkey")]
    UnknownCredential,
    /// The credential belongs to another account than the one asked for.
    #[error("the passkey belongs to another account")]
    WrongAccount,
    /// webauthn-rs rejected the answer: wrong origin, RP ID, challenge, signature, flags…
    #[error("passkey verification failed: {0}")]
    Rejected(WebauthnError),
    /// The signature counter did not grow: the authenticator may have been cloned.
    #[error("the passkey's signature counter went backwards: possible clone")]
    PossibleClone {
        /// The account the passkey belongs to.
        account: AccountId,
        /// The passkey.
        passkey: PasskeyId,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A ceremony's state, as kept in the ephemeral store.
#[derive(Serialize, Deserialize)]
enum State {
    /// Enrolment of a passkey for `account`.
    Registration {
        account: AccountId,
        state: PasskeyRegistration,
    },
    /// Login with one of `account`'s passkeys.
    Login {
        account: AccountId,
        state: PasskeyAuthentication,
    },
    /// Login with any discoverable passkey; only with one of `account`'s when the login
    /// was asked for an account that had no passkeys.
    Discoverable {
        account: Option<AccountId>,
        state: DiscoverableAuthentication,
    },
}

/// What a ceremony was started for: the same text must be given to finish it (for
/// example the login flow's id, or the enrolling account's session).
#[derive(Serialize, Deserialize)]
struct Stored {
    /// SHA-256 (hex) of the context.
    context: String,
    state: State,
}

/// A started ceremony: the id the browser must send back, and the options for
/// `navigator.credentials` (webauthn-rs's JSON, which the browser's
/// `PublicKeyCredential.parse{Creation,Request}OptionsFromJSON` reads).
#[derive(Debug, Serialize)]
pub struct Challenge<T> {
    /// The ceremony id.
    pub ceremony: String,
    /// The options for `navigator.credentials.create` / `get`.
    #[serde(flatten)]
    pub options: T,
}

/// A new passkey, ready for [`crate::store::CredentialStore::add_passkey`].
pub type Enrolled = NewPasskey;

/// A successful passkey login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyLogin {
    /// The account.
    pub account: AccountId,
    /// The passkey used.
    pub passkey: PasskeyId,
    /// The authenticator verified the user (PIN or biometric): always true, as it is
    /// required, but reported as the authenticator said.
    pub user_verified: bool,
    /// The credential may be synced to other devices (backup eligible, the BE flag).
    pub backup_eligible: bool,
    /// The credential is currently backed up (the BS flag).
    pub backup_state: bool,
}

impl PasskeyLogin {
    /// The RFC 8176 `amr` values of this login: `swk` for a synced (backup-eligible) key,
    /// else `hwk` (a device-bound key); `user` (the authenticator tested presence); and
    /// `mfa` when the user was verified (possession plus a PIN or biometric).
    pub fn amr(&self) -> Vec<&'static str> {
        let key = if self.backup_eligible { "swk" } else { "hwk" };
        let mut amr = vec![key, "user"];
        if self.user_verified {
            amr.push("mfa");
        }
        amr
    }
}

/// The WebAuthn relying party.
pub struct Passkeys {
    webauthn: Webauthn,
    ceremonies: Arc<dyn EphemeralStore>,
    lifetime: Duration,
}

impl Passkeys {
    /// A relying party `rp_id` (a registrable domain, e.g. `id.gov.vn` or `localhost`)
    /// for pages at `origin`, named `rp_name` in the browser's prompts; ceremonies last
    /// `lifetime` and are kept in `ceremonies`.
    pub fn new(
        rp_id: &str,
        origin: &Url,
        rp_name: &str,
        ceremonies: Arc<dyn EphemeralStore>,
        lifetime: Duration,
    ) -> Result<Self, PasskeyError> {
        if lifetime.is_zero() || lifetime > Duration::from_secs(3600) {
            return Err(PasskeyError::Config(
                "ceremony lifetime must be between 1 second and 1 hour".to_owned(),
            ));
        }
        let webauthn = WebauthnBuilder::new(rp_id, origin)
            .map_err(|err| PasskeyError::Config(err.to_string()))?
            .rp_name(rp_name)
            .timeout(lifetime)
            .build()
            .map_err(|err| PasskeyError::Config(err.to_string()))?;
        Ok(Self {
            webauthn,
            ceremonies,
            lifetime,
        })
    }

    /// How long a ceremony may take.
    pub fn ceremony_lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Starts enrolling a passkey for `account`. `existing` are the account's passkeys
    /// (sent as `excludeCredentials`, so an authenticator cannot enrol twice);
    /// `user_name` and `display_name` are shown by the authenticator's account picker.
    pub async fn start_registration(
        &self,
        context: &str,
        account: AccountId,
        user_name: &str,
        display_name: &str,
        existing: &[crate::store::PasskeyRecord],
    ) -> Result<Challenge<CreationChallengeResponse>, PasskeyError> {
        let exclude = existing
            .iter()
            .map(|p| p.credential_id.clone())
            .collect::<Vec<_>>();
        let (mut options, state) = self
            .webauthn
            .start_passkey_registration(
                account.as_uuid(),
                user_name,
                display_name,
                Some(exclude).filter(|e| !e.is_empty()),
            )
            .map_err(PasskeyError::Rejected)?;
        // WebAuthn Level 3 section 5.4.4: `preferred` asks for a discoverable credential
        // when the authenticator can make one.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            selection.require_resident_key = false;
        }
        let ceremony = self
            .save(context, State::Registration { account, state })
            .await?;
        Ok(Challenge { ceremony, options })
    }

    /// Finishes the enrolment `ceremony` of `account` with the browser's `response`
    /// (`credential.toJSON()`); the caller stores the result under `label`.
    pub async fn finish_registration(
        &self,
        context: &str,
        ceremony: &str,
        account: AccountId,
        response: &str,
        label: &str,
    ) -> Result<Enrolled, PasskeyError> {
        let State::Registration {
            account: owner,
            state,
        } = self.take(context, ceremony).await?
        else {
            return Err(PasskeyError::WrongContext);
        };
        if owner != account {
            return Err(PasskeyError::WrongContext);
        }
        let response: RegisterPublicKeyCredential = parse(response)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&response, &state)
            .map_err(PasskeyError::Rejected)?;
        Ok(NewPasskey {
            account_id: account,
            credential_id: passkey.cred_id().to_vec(),
            label: label.to_owned(),
            passkey: serde_json::to_value(&passkey).map_err(|_| StoreError::Corrupt("passkey"))?,
        })
    }

    /// Starts a login. With `account`'s passkeys (`Some`), the browser offers only those
    /// ("a passkey for this personal ID"); with `None`, any discoverable passkey of this
    /// site (the account picker, or conditional UI / autofill). An account without
    /// passkeys gets a discoverable challenge (there is nothing to list); a finish with
    /// another account's passkey fails with [`PasskeyError::WrongAccount`].
    pub async fn start_login(
        &self,
        context: &str,
        account: Option<(AccountId, &[crate::store::PasskeyRecord])>,
    ) -> Result<Challenge<RequestChallengeResponse>, PasskeyError> {
        let keys = match account {
            Some((id, records)) if !records.is_empty() => Some((id, passkeys_of(records)?)),
            _ => None,
        };
        let (mut options, state) = match keys {
            Some((account, keys)) => {
                let (options, state) = self
                    .webauthn
                    .start_passkey_authentication(&keys)
                    .map_err(PasskeyError::Rejected)?;
                (options, State::Login { account, state })
            }
            None => {
                let (options, state) = self
                    .webauthn
                    .start_discoverable_authentication()
                    .map_err(PasskeyError::Rejected)?;
                let account = account.map(|(account, _)| account);
                (options, State::Discoverable { account, state })
            }
        };
        // The page decides between a modal request and conditional mediation.
        options.mediation = None;
        let ceremony = self.save(context, state).await?;
        Ok(Challenge { ceremony, options })
    }

    /// Finishes the login `ceremony` with the browser's `response`: verifies it against
    /// the stored passkey, then records the new counter and backup state in `durable`.
    pub async fn finish_login(
        &self,
        context: &str,
        ceremony: &str,
        response: &str,
        durable: &dyn DurableStore,
    ) -> Result<PasskeyLogin, PasskeyError> {
        let state = self.take(context, ceremony).await?;
        if matches!(state, State::Registration { .. }) {
            return Err(PasskeyError::WrongContext);
        }
        let response: PublicKeyCredential = parse(response)?;
        let record = durable
            .find_passkey(response.get_credential_id())
            .await?
            .ok_or(PasskeyError::UnknownCredential)?;
        let mut passkey: Passkey = serde_json::from_value(record.passkey.clone())
            .map_err(|_| StoreError::Corrupt("passkey"))?;
        let result = match state {
            State::Login { account, state } => {
                // W3C WebAuthn Level 3 section 7.2 step 6: a user handle, when the
                // authenticator gives one, must be the account's.
                let handle = response.get_user_unique_id();
                let foreign = handle.is_some_and(|h| h != account.as_uuid().as_bytes());
                if record.account_id != account || foreign {
                    return Err(PasskeyError::WrongAccount);
                }
                self.webauthn
                    .finish_passkey_authentication(&response, &state)
            }
            State::Discoverable { account, state } => {
                let (user, _) = self
                    .webauthn
                    .identify_discoverable_authentication(&response)
                    .map_err(|_| PasskeyError::Malformed)?;
                let asked_for_another = account.is_some_and(|asked| asked != record.account_id);
                if user != record.account_id.as_uuid() || asked_for_another {
                    return Err(PasskeyError::WrongAccount);
                }
                self.webauthn
                    .finish_discoverable_authentication_v2(&response, state, &passkey)
            }
            State::Registration { .. } => return Err(PasskeyError::WrongContext),
        };
        let possible_clone = || PasskeyError::PossibleClone {
            account: record.account_id,
            passkey: record.id,
        };
        let result = result.map_err(|err| match err {
            WebauthnError::CredentialPossibleCompromise => possible_clone(),
            other => PasskeyError::Rejected(other),
        })?;
        // webauthn-rs compared the counter with the passkey as it was when the login
        // started (a `Login` state holds the account's passkeys then); a login finished
        // since may have raised it.
        if counter_did_not_grow(&passkey, &result) {
            return Err(possible_clone());
        }
        passkey.update_credential(&result);
        let stored = serde_json::to_value(&passkey).map_err(|_| StoreError::Corrupt("passkey"))?;
        let recorded = durable
            .record_passkey_use(
                record.id,
                &record.passkey,
                &stored,
                OffsetDateTime::now_utc(),
            )
            .await;
        match recorded {
            Ok(()) => {}
            // Another login with this key was recorded since this one was checked: two
            // answers with one counter value, which is what a clone looks like.
            Err(StoreError::Contention) => return Err(possible_clone()),
            Err(err) => return Err(err.into()),
        }
        Ok(PasskeyLogin {
            account: record.account_id,
            passkey: record.id,
            user_verified: result.user_verified(),
            backup_eligible: result.backup_eligible(),
            backup_state: result.backup_state(),
        })
    }

    async fn save(&self, context: &str, state: State) -> Result<String, PasskeyError> {
        let id = OpaqueToken::generate();
        let stored = Stored {
            context: context_digest(context),
            state,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|_| StoreError::Corrupt("ceremony"))?;
        self.ceremonies
            .put(&key(&id), &bytes, self.lifetime)
            .await?;
        Ok(id.expose().to_owned())
    }

    /// Takes (single use) the ceremony `id` started for `context`.
    async fn take(&self, context: &str, id: &str) -> Result<State, PasskeyError> {
        let id = OpaqueToken::parse(id).map_err(|_| PasskeyError::Expired)?;
        let bytes = self
            .ceremonies
            .take(&key(&id))
            .await?
            .ok_or(PasskeyError::Expired)?;
        let stored: Stored =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::Corrupt("ceremony"))?;
        let same: bool = stored
            .context
            .as_bytes()
            .ct_eq(context_digest(context).as_bytes())
            .into();
        if same {
            Ok(stored.state)
        } else {
            Err(PasskeyError::WrongContext)
        }
    }
}

fn key(id: &OpaqueToken) -> String {
    format!("webauthn:{}", id.hash().to_hex())
}

fn context_digest(context: &str) -> String {
    crate::store::key_digest(&[context.as_bytes()])
}

/// A browser answer, parsed; oversized or malformed input is [`PasskeyError::Malformed`].
fn parse<T: serde::de::DeserializeOwned>(response: &str) -> Result<T, PasskeyError> {
    if response.len() > MAX_RESPONSE {
        return Err(PasskeyError::Malformed);
    }
    serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)
}

/// WebAuthn Level 3 section 6.1.1: a signature counter that is not above the stored one
/// (unless both are 0: an authenticator without a counter) signals a possible clone.
fn counter_did_not_grow(stored: &Passkey, result: &AuthenticationResult) -> bool {
    let stored = Credential::from(stored.clone()).counter;
    (result.counter() > 0 || stored > 0) && result.counter() <= stored
}

fn passkeys_of(records: &[crate::store::PasskeyRecord]) -> Result<Vec<Passkey>, PasskeyError> {
    records
        .iter()
        .map(|r| {
            serde_json::from_value(r.passkey.clone())
                .map_err(|_| PasskeyError::Store(StoreError::Corrupt("passkey")))
        })
        .collect()
}
