//! Pending interactions (an authorization waiting for login or consent, a logout waiting
//! for confirmation), kept in the ephemeral store under a random id.
//!
//! A flow is bound to the browser that started it (the hash of its `eid_flow` cookie) and
//! carries a CSRF token that its form must echo: a form posted from another site, or a flow
//! id replayed from another browser, is refused. Finishing a flow takes it atomically, so
//! one flow yields at most one authorization response.

use std::time::Duration;

use eid_core::store::{EphemeralStore, StoreError};
use eid_core::token::OpaqueToken;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

/// How long a citizen has to complete a login or consent.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// A pending interaction and what binds it to its browser.
#[derive(Debug, Serialize, Deserialize)]
pub struct Flow<T> {
    /// What is pending.
    pub payload: T,
    /// Hex SHA-256 of the browser's `eid_flow` cookie.
    browser: String,
    /// The token the flow's forms must echo.
    pub csrf: String,
    /// When the flow started, unix seconds.
    pub created_at: i64,
}

impl<T> Flow<T> {
    /// Whether `presented` is this flow's CSRF token (constant-time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

fn key(kind: &str, id: &OpaqueToken) -> String {
    format!("flow:{kind}:{}", id.hash().to_hex())
}

/// Files `payload` as a new `kind` flow bound to `browser`; returns its id and CSRF token.
pub async fn create<T: Serialize>(
    store: &dyn EphemeralStore,
    kind: &str,
    payload: T,
    browser: &OpaqueToken,
    now: i64,
) -> Result<(OpaqueToken, String), StoreError> {
    let id = OpaqueToken::generate();
    let flow = Flow {
        payload,
        browser: browser.hash().to_hex(),
        csrf: OpaqueToken::generate().expose().to_owned(),
        created_at: now,
    };
    let value = serde_json::to_vec(&flow).map_err(|_| StoreError::Corrupt("flow"))?;
    store.put(&key(kind, &id), &value, FLOW_LIFETIME).await?;
    Ok((id, flow.csrf))
}

/// The `kind` flow `id`, if it exists and belongs to `browser`.
pub async fn load<T: DeserializeOwned>(
    store: &dyn EphemeralStore,
    kind: &str,
    id: &str,
    browser: Option<&OpaqueToken>,
) -> Result<Option<Flow<T>>, StoreError> {
    let (Ok(id), Some(browser)) = (OpaqueToken::parse(id), browser) else {
        return Ok(None);
    };
    let Some(bytes) = store.get(&key(kind, &id)).await? else {
        return Ok(None);
    };
    let flow: Flow<T> = serde_json::from_slice(&bytes).map_err(|_| StoreError::Corrupt("flow"))?;
    let same_browser: bool = flow
        .browser
        .as_bytes()
        .ct_eq(browser.hash().to_hex().as_bytes())
        .into();
    Ok(same_browser.then_some(flow))
}

/// Stores `flow` back under `id` (its payload changed), for another full lifetime;
/// `false` if the flow has ended meanwhile (a concurrent submission finished it), in which
/// case it stays ended. The old value is taken first, so an update can never bring back a
/// finished flow (which would let it be answered twice).
pub async fn update<T: Serialize>(
    store: &dyn EphemeralStore,
    kind: &str,
    id: &str,
    flow: &Flow<T>,
) -> Result<bool, StoreError> {
    let id = OpaqueToken::parse(id).map_err(|_| StoreError::Corrupt("flow id"))?;
    let value = serde_json::to_vec(flow).map_err(|_| StoreError::Corrupt("flow"))?;
    if store.take(&key(kind, &id)).await?.is_none() {
        return Ok(false);
    }
    store.put(&key(kind, &id), &value, FLOW_LIFETIME).await?;
    Ok(true)
}

/// Ends the `kind` flow `id`; `false` if it had already ended (a concurrent submission
/// won), in which case the caller must not answer it again.
pub async fn finish(store: &dyn EphemeralStore, kind: &str, id: &str) -> Result<bool, StoreError> {
    let Ok(id) = OpaqueToken::parse(id) else {
        return Ok(false);
    };
    Ok(store.take(&key(kind, &id)).await?.is_some())
}

#[cfg(test)]
mod tests {
    use eid_core::store::MemoryEphemeral;

    use super::*;

    #[tokio::test]
    async fn flows_belong_to_their_browser_and_finish_once() {
        let store = MemoryEphemeral::new();
        let browser = OpaqueToken::generate();
        let other = OpaqueToken::generate();
        let (id, csrf) = create(&store, "t", 7u32, &browser, 100).await.unwrap();
        let flow: Flow<u32> = load(&store, "t", id.expose(), Some(&browser))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((flow.payload, flow.created_at), (7, 100));
        assert!(flow.csrf_matches(&csrf));
        assert!(!flow.csrf_matches("forged"));
        let stolen: Option<Flow<u32>> = load(&store, "t", id.expose(), Some(&other)).await.unwrap();
        assert!(stolen.is_none());
        let cookieless: Option<Flow<u32>> = load(&store, "t", id.expose(), None).await.unwrap();
        assert!(cookieless.is_none());
        let wrong_kind: Option<Flow<u32>> = load(&store, "u", id.expose(), Some(&browser))
            .await
            .unwrap();
        assert!(wrong_kind.is_none());
        let mut changed = flow;
        changed.payload = 8;
        assert!(update(&store, "t", id.expose(), &changed).await.unwrap());
        let reloaded: Flow<u32> = load(&store, "t", id.expose(), Some(&browser))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((reloaded.payload, &reloaded.csrf), (8, &csrf));
        assert!(finish(&store, "t", id.expose()).await.unwrap());
        assert!(!finish(&store, "t", id.expose()).await.unwrap());
        // A finished flow stays finished: a late update does not bring it back.
        assert!(!update(&store, "t", id.expose(), &reloaded).await.unwrap());
        assert!(!finish(&store, "t", id.expose()).await.unwrap());
        assert!(!finish(&store, "t", "malformed").await.unwrap());
    }
}
