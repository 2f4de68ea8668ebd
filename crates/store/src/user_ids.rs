//! How a store keeps user ids — as the shop issued them, or pseudonymised under one key
//! (`cartback_ingest::Pseudonymiser`) — recorded in the store (`store_settings`), so that ids
//! of the two kinds, or of two keys, never mix in one store: a shopper would become two
//! people, their carts would split, and an erasure would find only half of them.

use crate::{Store, StoreError};

/// The setting that records it: absent for ids as issued, `pseudonymised:FINGERPRINT` for
/// pseudonyms made with the key of that fingerprint.
pub const USER_IDS_SETTING: &str = "user_ids";

/// How the writer about to use a store keeps user ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserIds<'a> {
    /// As the shop issued them.
    AsIssued,
    /// Pseudonymised with the key of this fingerprint.
    Pseudonymised { fingerprint: &'a str },
}

#[derive(Debug, thiserror::Error)]
pub enum UserIdsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the store's user ids are pseudonymised (key fingerprint {stored}); set the same key (`privacy.pseudonymise_key` or CARTBACK_PSEUDONYMISE_KEY) to write to it, or the shop's own ids would mix with the pseudonyms"
    )]
    KeyMissing { stored: String },
    #[error(
        "the store's user ids are pseudonymised with another key (fingerprint {stored}; the configured key's is {configured}); every shopper would get a second identity"
    )]
    KeyMismatch { stored: String, configured: String },
    #[error(
        "the store already holds {events} events and {carts} carts with the shop's own user ids; pseudonymising from now on would split every shopper in two. Use a new store (import the history into it with the key set), or leave pseudonymisation off"
    )]
    HoldsIssuedIds { events: u64, carts: u64 },
    #[error("the store setting `{USER_IDS_SETTING}` has an unknown value `{0}`")]
    Unknown(String),
}

fn fingerprint_of(value: &str) -> Result<&str, UserIdsError> {
    value
        .strip_prefix("pseudonymised:")
        .ok_or_else(|| UserIdsError::Unknown(value.to_owned()))
}

/// Checks that a writer keeping user ids as `wanted` may use `store`, and records a first
/// writer's pseudonymisation: an empty store takes the key it is first given (concurrent
/// first writers with different keys: the first to commit wins, the other is refused).
pub fn ensure_user_ids(store: &mut dyn Store, wanted: UserIds<'_>) -> Result<(), UserIdsError> {
    let stored = store.setting(USER_IDS_SETTING)?;
    match (stored, wanted) {
        (None, UserIds::AsIssued) => Ok(()),
        (Some(value), UserIds::AsIssued) => Err(UserIdsError::KeyMissing {
            stored: fingerprint_of(&value)?.to_owned(),
        }),
        (stored, UserIds::Pseudonymised { fingerprint }) => {
            let stored = match stored {
                Some(value) => value,
                None => {
                    let events = store.event_count()?;
                    let carts: u64 = store.cart_counts()?.values().sum();
                    if events > 0 || carts > 0 {
                        return Err(UserIdsError::HoldsIssuedIds { events, carts });
                    }
                    store
                        .claim_setting(USER_IDS_SETTING, &format!("pseudonymised:{fingerprint}"))?
                }
            };
            let stored = fingerprint_of(&stored)?;
            if stored == fingerprint {
                Ok(())
            } else {
                Err(UserIdsError::KeyMismatch {
                    stored: stored.to_owned(),
                    configured: fingerprint.to_owned(),
                })
            }
        }
    }
}
