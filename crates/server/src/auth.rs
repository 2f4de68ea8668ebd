//! API keys: scopes, hashed storage, constant-time verification, a generated admin key
//! when none is configured, and per-key rate limiting (a token bucket per key).

use crate::config::ApiKeyConfig;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use subtle::ConstantTimeEq;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Ingest,
    Read,
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// One configured key: its name, SHA-256 digest and scopes. The key itself is never kept.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub name: String,
    digest: [u8; 32],
    scopes: Vec<Scope>,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

/// `sha256:` + hex digest of `key`: what a configuration file stores.
pub fn hash_key(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// Validates one configured key; the error names the problem.
pub fn parse_key_config(config: &ApiKeyConfig) -> Result<ApiKey, String> {
    if config.name.trim().is_empty() {
        return Err("`name` must not be empty".into());
    }
    let hex_digest = config
        .hash
        .strip_prefix("sha256:")
        .ok_or("`hash` must start with \"sha256:\"")?;
    let bytes = hex::decode(hex_digest).map_err(|e| format!("`hash`: {e}"))?;
    let digest: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "`hash` must be 64 hex digits".to_owned())?;
    if config.scopes.is_empty() {
        return Err("`scopes` must not be empty".into());
    }
    let scopes = config
        .scopes
        .iter()
        .map(|s| {
            Scope::parse(s)
                .ok_or_else(|| format!("`scopes`: unknown scope {s:?} (ingest, read, admin)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiKey {
        name: config.name.clone(),
        digest,
        scopes,
    })
}

/// A fresh random admin key (`cb_` + 64 hex digits).
pub fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("cb_{}", hex::encode(bytes))
}

/// Every accepted key, and the rate limiter that meters them.
pub struct KeyRing {
    keys: Vec<ApiKey>,
    limiter: RateLimiter,
}

impl KeyRing {
    /// Builds the ring; with no keys configured, generates an admin key and returns it so the
    /// caller prints it once.
    pub fn new(
        configs: &[ApiKeyConfig],
        per_second: u32,
    ) -> Result<(KeyRing, Option<String>), String> {
        let mut keys = configs
            .iter()
            .map(parse_key_config)
            .collect::<Result<Vec<_>, _>>()?;
        let mut generated = None;
        if keys.is_empty() {
            let key = generate_key();
            keys.push(ApiKey {
                name: "generated-admin".into(),
                digest: Sha256::digest(key.as_bytes()).into(),
                scopes: vec![Scope::Admin],
            });
            generated = Some(key);
        }
        Ok((
            KeyRing {
                keys,
                limiter: RateLimiter::new(per_second),
            },
            generated,
        ))
    }

    /// The key whose digest matches, comparing against every key in constant time.
    pub fn verify(&self, presented: &str) -> Option<&ApiKey> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.digest.ct_eq(&digest)) {
                found = Some(key);
            }
        }
        found
    }

    /// Takes one token from the key's bucket; `false` means over the limit.
    pub fn admit(&self, key: &ApiKey) -> bool {
        self.limiter.admit(&key.name)
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// A token bucket per key name: `per_second` tokens per second, burst of the same size.
pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn admit(&self, name: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(name.to_owned()).or_insert(Bucket {
            tokens: self.per_second,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.per_second);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, key: &str, scopes: &[&str]) -> ApiKeyConfig {
        ApiKeyConfig {
            name: name.into(),
            hash: hash_key(key),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn keys_are_matched_by_hash_and_scopes_are_enforced() {
        let (ring, generated) = KeyRing::new(
            &[
                config("shop", "k-ingest", &["ingest"]),
                config("ops", "k-admin", &["admin"]),
            ],
            100,
        )
        .unwrap();
        assert!(generated.is_none());
        let shop = ring.verify("k-ingest").unwrap();
        assert!(shop.allows(Scope::Ingest) && !shop.allows(Scope::Read));
        assert!(ring.verify("k-admin").unwrap().allows(Scope::Read));
        assert!(ring.verify("k-other").is_none());
    }

    #[test]
    fn a_generated_admin_key_is_returned_once_when_none_are_configured() {
        let (ring, generated) = KeyRing::new(&[], 100).unwrap();
        let key = generated.unwrap();
        assert!(key.starts_with("cb_") && key.len() == 67);
        assert!(ring.verify(&key).unwrap().allows(Scope::Admin));
    }

    #[test]
    fn bad_key_configs_name_the_field() {
        let mut bad = config("x", "k", &["ingest"]);
        bad.hash = "md5:abc".into();
        assert!(parse_key_config(&bad).unwrap_err().contains("hash"));
        let bad = config("x", "k", &["write"]);
        assert!(parse_key_config(&bad).unwrap_err().contains("scopes"));
    }

    #[test]
    fn the_bucket_refuses_requests_beyond_its_burst() {
        let limiter = RateLimiter::new(3);
        let admitted = (0..10).filter(|_| limiter.admit("k")).count();
        assert!((3..10).contains(&admitted), "admitted {admitted}");
        assert!(limiter.admit("other"));
    }
}
