//! Signed, expiring tracking tokens for the open pixel, the restore-cart redirect and the
//! one-click unsubscribe. A token is `base64url(claims JSON) . base64url(HMAC-SHA256)`; it
//! names the message, what it may do and when it expires, and nothing else — the restore
//! redirect goes to the configured shop URL, never to a URL carried by the request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cartback_core::Timestamp;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    Open,
    Restore,
    Unsubscribe,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// What the token may be used for.
    pub p: TokenPurpose,
    /// Outbox message id.
    pub m: i64,
    /// Expiry, epoch milliseconds.
    pub e: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid for this link")]
    WrongPurpose,
}

pub struct TokenSigner {
    secret: Vec<u8>,
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> Self {
        TokenSigner {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(data);
        mac
    }

    pub fn sign(&self, claims: &TokenClaims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let signature = URL_SAFE_NO_PAD.encode(self.mac(body.as_bytes()).finalize().into_bytes());
        format!("{body}.{signature}")
    }

    /// Checks signature (constant time), expiry and purpose.
    pub fn verify(
        &self,
        token: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> Result<TokenClaims, TokenError> {
        let (body, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(body.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        let claims: TokenClaims =
            serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if claims.e <= now.0 {
            return Err(TokenError::Expired);
        }
        if claims.p != purpose {
            return Err(TokenError::WrongPurpose);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_unaltered_unexpired_and_for_their_purpose() {
        let signer = TokenSigner::new(b"secret");
        let claims = TokenClaims {
            p: TokenPurpose::Restore,
            m: 7,
            e: 10_000,
        };
        let token = signer.sign(&claims);
        assert_eq!(
            signer.verify(&token, TokenPurpose::Restore, Timestamp(9_999)),
            Ok(claims)
        );
        assert_eq!(
            signer.verify(&token, TokenPurpose::Restore, Timestamp(10_000)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            signer.verify(&token, TokenPurpose::Open, Timestamp(0)),
            Err(TokenError::WrongPurpose)
        );
        let other = TokenSigner::new(b"other");
        assert_eq!(
            other.verify(&token, TokenPurpose::Restore, Timestamp(0)),
            Err(TokenError::BadSignature)
        );
        let forged = signer.sign(&TokenClaims {
            p: TokenPurpose::Restore,
            m: 8,
            e: 10_000,
        });
        let spliced = format!(
            "{}.{}",
            forged.split('.').next().unwrap(),
            token.split('.').nth(1).unwrap()
        );
        assert_eq!(
            signer.verify(&spliced, TokenPurpose::Restore, Timestamp(0)),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer.verify("nonsense", TokenPurpose::Restore, Timestamp(0)),
            Err(TokenError::Malformed)
        );
    }
}
