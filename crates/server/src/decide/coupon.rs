//! Coupon codes: unique, expiring and HMAC-signed with the server's signing secret, so the
//! shop can have one checked (`GET /v1/coupons/{code}`) without cartback storing codes.
//!
//! A code names the outbox message it was sent in (unique per database, so the code is
//! unique), the discount and the expiry hour: 5 bytes message id, 3 bytes expiry (hours
//! since the Unix epoch, rounded up), 1 byte percent, then the first 6 bytes of
//! HMAC-SHA256(secret, "cartback-coupon-v1" ‖ those 9 bytes). The 15 bytes are written in
//! Crockford base 32 (no I, L, O, U; read case-insensitively, with I/L as 1 and O as 0) in
//! four groups of six after a readable prefix: `CB10-7K3M9Q-W2XRTB-…`. The prefix must match
//! the percent inside. A code is derived, not drawn: the same message always gets the same
//! code, so a retried send repeats it.

use cartback_core::Timestamp;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DOMAIN: &[u8] = b"cartback-coupon-v1";
const BODY: usize = 9;
const TAG: usize = 6;
const HOUR_MS: i64 = 3_600_000;

/// A coupon as issued or verified.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Coupon {
    pub code: String,
    pub percent: u32,
    pub message_id: i64,
    /// The coupon is valid before this instant (a whole hour).
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    #[error("not a cartback coupon code")]
    Malformed,
    #[error("the coupon code's signature is invalid")]
    BadSignature,
    #[error("the coupon expired")]
    Expired(Box<Coupon>),
    #[error("the coupon cannot be encoded: {0}")]
    OutOfRange(&'static str),
}

pub struct CouponSigner {
    secret: Vec<u8>,
}

fn encode(bytes: &[u8; BODY + TAG]) -> String {
    let mut out = String::with_capacity(24);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    debug_assert_eq!(bits, 0, "15 bytes are exactly 24 symbols");
    out
}

fn symbol(c: char) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|p| p as u32)
}

fn decode(text: &str) -> Option<[u8; BODY + TAG]> {
    let mut out = [0u8; BODY + TAG];
    let (mut buffer, mut bits, mut written) = (0u32, 0u32, 0usize);
    for c in text.chars() {
        buffer = (buffer << 5) | symbol(c)?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(written)? = (buffer >> bits) as u8;
            written += 1;
        }
        buffer &= (1 << bits) - 1;
    }
    (written == out.len() && bits == 0).then_some(out)
}

impl CouponSigner {
    pub fn new(secret: &[u8]) -> CouponSigner {
        CouponSigner {
            secret: secret.to_vec(),
        }
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(DOMAIN);
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&full[..TAG]);
        tag
    }

    /// The coupon of `percent` % sent in message `message_id`, valid until `expires_at`
    /// rounded up to the next whole hour.
    pub fn issue(
        &self,
        message_id: i64,
        percent: u32,
        expires_at: Timestamp,
    ) -> Result<Coupon, CouponError> {
        if !(0..1 << 40).contains(&message_id) {
            return Err(CouponError::OutOfRange("message id beyond 2^40"));
        }
        if !(1..=100).contains(&percent) {
            return Err(CouponError::OutOfRange("percent outside 1..=100"));
        }
        let hours = expires_at.as_millis().div_euclid(HOUR_MS)
            + i64::from(expires_at.as_millis().rem_euclid(HOUR_MS) != 0);
        if !(0..1 << 24).contains(&hours) {
            return Err(CouponError::OutOfRange(
                "expiry outside the years 1970–3883",
            ));
        }
        let mut bytes = [0u8; BODY + TAG];
        bytes[..5].copy_from_slice(&message_id.to_be_bytes()[3..]);
        bytes[5..8].copy_from_slice(&hours.to_be_bytes()[5..]);
        bytes[8] = percent as u8;
        let tag = self.tag(&bytes[..BODY]);
        bytes[BODY..].copy_from_slice(&tag);
        let symbols = encode(&bytes);
        let groups: Vec<&str> = (0..4).map(|i| &symbols[i * 6..i * 6 + 6]).collect();
        Ok(Coupon {
            code: format!("CB{percent}-{}", groups.join("-")),
            percent,
            message_id,
            expires_at: Timestamp(hours * HOUR_MS),
        })
    }

    /// Checks a code's form, prefix and signature (in constant time), then its expiry at
    /// `now`. An expired code that is otherwise genuine is reported with its contents.
    pub fn verify(&self, code: &str, now: Timestamp) -> Result<Coupon, CouponError> {
        let trimmed = code.trim();
        let (prefix, rest) = trimmed
            .split_once(['-', ' '])
            .ok_or(CouponError::Malformed)?;
        let prefix_percent: u32 = prefix
            .get(..2)
            .filter(|p| p.eq_ignore_ascii_case("CB"))
            .and_then(|_| prefix[2..].parse().ok())
            .ok_or(CouponError::Malformed)?;
        let symbols: String = rest.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let bytes = decode(&symbols).ok_or(CouponError::Malformed)?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(DOMAIN);
        mac.update(&bytes[..BODY]);
        mac.verify_truncated_left(&bytes[BODY..])
            .map_err(|_| CouponError::BadSignature)?;
        let percent = u32::from(bytes[8]);
        if percent != prefix_percent {
            return Err(CouponError::Malformed);
        }
        let mut id = [0u8; 8];
        id[3..].copy_from_slice(&bytes[..5]);
        let mut hours = [0u8; 8];
        hours[5..].copy_from_slice(&bytes[5..8]);
        let expires_at = Timestamp(i64::from_be_bytes(hours) * HOUR_MS);
        let coupon = self.issue(i64::from_be_bytes(id), percent, expires_at)?;
        if coupon.expires_at <= now {
            return Err(CouponError::Expired(Box::new(coupon)));
        }
        Ok(coupon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_780_000_000_000);

    #[test]
    fn issued_codes_verify_and_are_unique_per_message() {
        let signer = CouponSigner::new(b"secret");
        let coupon = signer
            .issue(42, 10, NOW + cartback_core::Duration::days(7))
            .unwrap();
        assert!(coupon.code.starts_with("CB10-"), "{}", coupon.code);
        assert_eq!(coupon.code.len(), "CB10-".len() + 4 * 6 + 3);
        assert_eq!(coupon.expires_at.as_millis() % HOUR_MS, 0);
        assert!(coupon.expires_at >= NOW + cartback_core::Duration::days(7));
        assert_eq!(signer.verify(&coupon.code, NOW), Ok(coupon.clone()));
        // Read case-insensitively, without separators, with look-alike letters.
        let body = coupon.code["CB10-".len()..].to_lowercase();
        let sloppy = format!("cb10 {}", body.replace('0', "o").replace('1', "l"));
        assert_eq!(signer.verify(&sloppy, NOW).unwrap().message_id, 42);
        let other = signer
            .issue(43, 10, NOW + cartback_core::Duration::days(7))
            .unwrap();
        assert_ne!(other.code, coupon.code);
        assert_eq!(
            signer
                .issue(42, 10, NOW + cartback_core::Duration::days(7))
                .unwrap(),
            coupon,
            "the same message always gets the same code"
        );
    }

    #[test]
    fn tampered_foreign_and_expired_codes_are_refused() {
        let signer = CouponSigner::new(b"secret");
        let coupon = signer
            .issue(7, 15, NOW + cartback_core::Duration::hours(5))
            .unwrap();
        // Change one symbol of the body.
        let mut chars: Vec<char> = coupon.code.chars().collect();
        let i = "CB15-".len() + 2;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            signer.verify(&tampered, NOW),
            Err(CouponError::BadSignature)
        );
        // A bigger discount in the prefix does not match the signed percent.
        let greedy = coupon.code.replacen("CB15", "CB50", 1);
        assert_eq!(signer.verify(&greedy, NOW), Err(CouponError::Malformed));
        assert_eq!(
            CouponSigner::new(b"other").verify(&coupon.code, NOW),
            Err(CouponError::BadSignature)
        );
        match signer.verify(&coupon.code, coupon.expires_at) {
            Err(CouponError::Expired(expired)) => assert_eq!(*expired, coupon),
            other => panic!("{other:?}"),
        }
        for garbage in [
            "",
            "CB10",
            "CB10-",
            "XX10-AAAAAA",
            "CB10-UUUUUU-UUUUUU-UUUUUU-UUUUUU",
        ] {
            assert_eq!(
                signer.verify(garbage, NOW),
                Err(CouponError::Malformed),
                "{garbage:?}"
            );
        }
        assert!(signer.issue(1 << 40, 10, NOW).is_err());
        assert!(signer.issue(1, 0, NOW).is_err());
    }

    #[test]
    fn base32_round_trips_every_byte_value() {
        let mut bytes = [0u8; BODY + TAG];
        for start in 0..=255u8 {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = start.wrapping_add((i * 17) as u8);
            }
            assert_eq!(decode(&encode(&bytes)), Some(bytes));
        }
    }
}
