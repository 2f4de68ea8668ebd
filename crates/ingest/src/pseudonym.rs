//! Pseudonymisation of shopper identities at the ingest boundary (GDPR art. 4(5)): with a
//! shop's secret key, every accepted event's `user_id` and `anonymous_id` are replaced by a
//! pseudonym before anything is stored, and its id by a keyed hash of the id, so the store,
//! the decision log, exports, model files, metrics and logs hold no identifier the shop
//! issued. The key is the "additional information kept separately": with it, and only with
//! it, a pseudonym can be computed from the shop's id (erasure and consent requests name the
//! shop's id) and turned back into it (webhook messages carry the shop's own id).
//!
//! A pseudonym is `ps_` followed by the unpadded base64url of the AES-SIV (RFC 5297)
//! encryption of the id: deterministic, so one shopper keeps one pseudonym and their carts
//! stay together; authenticated, so [`Pseudonymiser::reveal`] recognises its own pseudonyms
//! and nothing else, which makes [`Pseudonymiser::apply`] idempotent (an event that already
//! carries this key's pseudonyms is left as it is). Its length follows the id's (16 bytes
//! more, base64-encoded); that is all it says about the id without the key.
//!
//! Event ids: a source's id (a Segment `messageId`) or a content id derived from the raw
//! event could confirm a guessed user id by recomputing it, so the stored id becomes the
//! first 16 bytes of HMAC-SHA256 of the id under a key of its own. Duplicates stay
//! duplicates: equal ids map to equal ids.
//!
//! The two keys and a public fingerprint (which names the key in error messages and in the
//! store, without revealing it) are derived from the configured secret with HMAC-SHA256 and
//! fixed labels.

use aes_siv::siv::Aes128Siv;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cartback_core::{Event, EventId};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What every pseudonym starts with.
pub const PSEUDONYM_PREFIX: &str = "ps_";

/// The shortest secret accepted, in bytes (e.g. `openssl rand -base64 32` gives 44).
pub const MIN_SECRET_BYTES: usize = 32;

/// Associated data of every user-id encryption: a pseudonym made for anything else under the
/// same key does not decrypt as a user id.
const USER_ID_CONTEXT: &[u8] = b"cartback user id v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PseudonymError {
    #[error(
        "the pseudonymisation key is {0} bytes long; it must be at least {MIN_SECRET_BYTES} (e.g. the output of `openssl rand -base64 32`)"
    )]
    KeyTooShort(usize),
    #[error("`{0}` is not a pseudonym made with this key")]
    NotOurs(String),
}

/// Turns shop-issued identities into pseudonyms and back, under one secret key.
#[derive(Clone)]
pub struct Pseudonymiser {
    user_key: [u8; 32],
    event_key: [u8; 32],
    fingerprint: String,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl Pseudonymiser {
    /// A pseudonymiser for `secret` (at least [`MIN_SECRET_BYTES`] bytes; surrounding white
    /// space is part of it).
    pub fn new(secret: &str) -> Result<Pseudonymiser, PseudonymError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(PseudonymError::KeyTooShort(secret.len()));
        }
        let derive = |label: &str| hmac_sha256(secret.as_bytes(), &[label.as_bytes()]);
        let fingerprint = hex::encode(&derive("cartback/pseudonym-key-fingerprint")[..8]);
        Ok(Pseudonymiser {
            user_key: derive("cartback/user-id-siv"),
            event_key: derive("cartback/event-id-hmac"),
            fingerprint,
        })
    }

    /// 16 hex digits that name the key (a hash of it): equal for equal keys, and useless for
    /// finding the key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn cipher(&self) -> Aes128Siv {
        Aes128Siv::new(&self.user_key.into())
    }

    /// The pseudonym of a shop-issued id; an id that already is one of this key's pseudonyms
    /// is returned as it is.
    pub fn pseudonym(&self, id: &str) -> String {
        if self.reveal(id).is_ok() {
            return id.to_owned();
        }
        let sealed = self
            .cipher()
            .encrypt([USER_ID_CONTEXT], id.as_bytes())
            .expect("AES-SIV encrypts any id with one header");
        let mut out = String::with_capacity(PSEUDONYM_PREFIX.len() + sealed.len().div_ceil(3) * 4);
        out.push_str(PSEUDONYM_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&sealed, &mut out);
        out
    }

    /// The shop's id behind one of this key's pseudonyms.
    pub fn reveal(&self, pseudonym: &str) -> Result<String, PseudonymError> {
        let not_ours = || PseudonymError::NotOurs(pseudonym.to_owned());
        let encoded = pseudonym
            .strip_prefix(PSEUDONYM_PREFIX)
            .ok_or_else(not_ours)?;
        let sealed = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| not_ours())?;
        // The synthetic IV alone (16 bytes) would be the pseudonym of the empty id, which
        // events never carry.
        if sealed.len() <= 16 {
            return Err(not_ours());
        }
        let plain = self
            .cipher()
            .decrypt([USER_ID_CONTEXT], &sealed)
            .map_err(|_| not_ours())?;
        String::from_utf8(plain).map_err(|_| not_ours())
    }

    /// The id an event with id `id` is stored under.
    pub fn event_id(&self, id: EventId) -> EventId {
        let mac = hmac_sha256(&self.event_key, &[id.as_bytes()]);
        EventId(mac[..16].try_into().expect("32 bytes hold 16"))
    }

    /// Pseudonymises an accepted event in place: `user_id` and `anonymous_id` become
    /// pseudonyms and `id` a keyed hash of itself. Everything else stays: the e-mail address
    /// is what an e-mail is sent to, and cart, order and session ids are the shop's
    /// references to its own records. Applying it to an event it already pseudonymised
    /// changes nothing.
    pub fn apply(&self, event: &mut Event) {
        if self.reveal(&event.user_id).is_ok() {
            return;
        }
        event.user_id = self.pseudonym(&event.user_id);
        if let Some(anonymous) = event.anonymous_id.as_mut() {
            *anonymous = self.pseudonym(anonymous);
        }
        event.id = self.event_id(event.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::{EventKind, Timestamp};

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

    fn event(user: &str) -> Event {
        Event {
            id: EventId([7; 16]),
            kind: EventKind::ProductAdded,
            timestamp: Timestamp(1_714_557_600_000),
            user_id: user.into(),
            anonymous_id: Some("anon-42".into()),
            session_id: Some("s1".into()),
            cart_id: Some("c1".into()),
            order_id: None,
            items: Vec::new(),
            currency: None,
            total: None,
            email: Some("alice@example.com".into()),
            timezone: None,
            channel: None,
            device: None,
            message_id: None,
            coupon_code: None,
            coupon_outcome: None,
            referrer: None,
        }
    }

    #[test]
    fn short_keys_are_refused_with_their_length() {
        let error = Pseudonymiser::new("too short").unwrap_err();
        assert_eq!(error, PseudonymError::KeyTooShort(9));
        assert!(error.to_string().contains("at least 32"), "{error}");
        assert!(Pseudonymiser::new(&"k".repeat(MIN_SECRET_BYTES)).is_ok());
    }

    #[test]
    fn pseudonyms_are_deterministic_per_key_and_reveal_the_id() {
        let p = Pseudonymiser::new(SECRET).unwrap();
        let alice = p.pseudonym("alice");
        assert!(alice.starts_with(PSEUDONYM_PREFIX), "{alice}");
        assert!(!alice.contains("alice"));
        assert_eq!(alice, p.pseudonym("alice"), "one shopper, one pseudonym");
        assert_ne!(alice, p.pseudonym("bob"));
        assert_eq!(p.reveal(&alice).unwrap(), "alice");
        // 5 bytes of id + 16 of synthetic IV = 21 bytes = 28 base64 characters.
        assert_eq!(alice.len(), PSEUDONYM_PREFIX.len() + 28);
        // Unicode ids survive the round trip.
        let unicode = p.pseudonym("kunde-äöü-😀");
        assert_eq!(p.reveal(&unicode).unwrap(), "kunde-äöü-😀");

        let other = Pseudonymiser::new(&format!("{SECRET}-other")).unwrap();
        assert_ne!(
            other.pseudonym("alice"),
            alice,
            "another key, another pseudonym"
        );
        assert_eq!(
            other.reveal(&alice),
            Err(PseudonymError::NotOurs(alice.clone())),
            "another key's pseudonym is not revealed"
        );
        assert_ne!(p.fingerprint(), other.fingerprint());
        assert_eq!(p.fingerprint().len(), 16);
        assert_eq!(
            p.fingerprint(),
            Pseudonymiser::new(SECRET).unwrap().fingerprint()
        );
    }

    #[test]
    fn reveal_refuses_anything_it_did_not_make() {
        let p = Pseudonymiser::new(SECRET).unwrap();
        let alice = p.pseudonym("alice");
        let mut tampered = alice.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        for text in [
            "alice",
            "ps_",
            "ps_!!!",
            "ps_AAAAAAAAAAAAAAAAAAAAAA",
            &alice[PSEUDONYM_PREFIX.len()..],
            &tampered,
        ] {
            assert!(p.reveal(text).is_err(), "{text:?} was revealed");
        }
    }

    #[test]
    fn apply_replaces_identities_and_the_id_and_is_idempotent() {
        let p = Pseudonymiser::new(SECRET).unwrap();
        let raw = event("alice");
        let mut once = raw.clone();
        p.apply(&mut once);
        assert_eq!(once.user_id, p.pseudonym("alice"));
        assert_eq!(once.anonymous_id, Some(p.pseudonym("anon-42")));
        assert_ne!(once.id, raw.id);
        assert_eq!(once.id, p.event_id(raw.id));
        // What the shop needs to act on stays.
        assert_eq!(once.email, raw.email);
        assert_eq!(once.cart_id, raw.cart_id);
        assert_eq!(once.session_id, raw.session_id);
        assert_eq!((once.kind, once.timestamp), (raw.kind, raw.timestamp));

        let mut twice = once.clone();
        p.apply(&mut twice);
        assert_eq!(twice, once, "applying it again changes nothing");

        // The same raw event gives the same stored event (dedupe keeps working), another
        // event id another stored id.
        let mut again = raw.clone();
        p.apply(&mut again);
        assert_eq!(again, once);
        let mut other = raw.clone();
        other.id = EventId([8; 16]);
        p.apply(&mut other);
        assert_ne!(other.id, once.id);

        // Nothing in the stored event's JSON names the shop's ids.
        let json = serde_json::to_string(&once).unwrap();
        assert!(
            !json.contains("alice\"") && !json.contains("anon-42"),
            "{json}"
        );
    }

    #[test]
    fn a_shopper_logged_in_as_their_anonymous_id_keeps_one_identity() {
        let p = Pseudonymiser::new(SECRET).unwrap();
        let mut e = event("anon-42");
        p.apply(&mut e);
        assert_eq!(Some(e.user_id.clone()), e.anonymous_id);
    }
}
