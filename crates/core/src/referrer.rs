//! Where a session came from, as the tracker keeps it on a cart: the *key* of an event's
//! [`referrer`](crate::Event::referrer).
//!
//! A referring URL is kept as its host, lower-cased, without userinfo, port or a leading
//! `www.` (`https://WWW.RetailMeNot.com:443/view/x` → `retailmenot.com`); a bare
//! `example.com/path` counts as a URL too. Anything else is a campaign source (`utm_source`,
//! e.g. `Newsletter`) and is kept as it is, trimmed and lower-cased (`newsletter`). A cart keeps
//! at most [`MAX_CART_REFERRERS`] distinct keys (`Cart::referrers`).
//!
//! [`matches_site`] says whether a key is a given site (the engine's deal-site list): a host
//! is the site or one of its subdomains; a campaign source names the site itself or its first
//! label (`retailmenot` for `retailmenot.com`).
//!
//! Deliberately small: no percent-decoding, no IDNA, no public-suffix list. A host given in
//! punycode stays punycode; that is all a comparison with a configured domain needs.

/// Most distinct referrer keys kept on one cart; later ones are dropped. A cart's sessions
/// rarely come from more than two or three places; the cap bounds what a stream of events
/// with a random referrer each can make a cart hold.
pub const MAX_CART_REFERRERS: usize = 8;

/// The key `raw` is kept under: a URL's host, else the trimmed, lower-cased text (a campaign
/// source). `None` for blank text or a URL without a host (`file:///x`, `https://`).
pub fn referrer_key(raw: &str) -> Option<String> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    let rest = match text.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => rest,
        _ => match text.strip_prefix("//") {
            Some(rest) => rest,
            None if looks_like_bare_host(text) => text,
            None => return Some(text.to_lowercase()),
        },
    };
    host(rest)
}

/// Whether `key` (from [`referrer_key`]) is the site `site` (a lower-case domain such as
/// `retailmenot.com`): the host itself or a subdomain of it, or — for a campaign source —
/// the site's first label (`retailmenot`).
pub fn matches_site(key: &str, site: &str) -> bool {
    if site.is_empty() {
        return false;
    }
    if key == site {
        return true;
    }
    if let Some(prefix) = key.strip_suffix(site)
        && prefix.ends_with('.')
    {
        return true;
    }
    match site.split_once('.') {
        Some((first, _)) => key == first,
        None => false,
    }
}

/// Adds `key` to `keys` unless it is there already or the cap is reached.
pub fn add_referrer(keys: &mut Vec<String>, key: String) {
    if keys.len() < MAX_CART_REFERRERS && !keys.contains(&key) {
        keys.push(key);
    }
}

/// `scheme` of `scheme://…`: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `example.com/x`, `shop.example:8080`: the part before the path has a dot and only the
/// characters of a host (and port).
fn looks_like_bare_host(text: &str) -> bool {
    let authority = authority(text);
    authority.contains('.')
        && !authority.starts_with('.')
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// The text up to the first `/`, `?`, `#` or `\`.
fn authority(rest: &str) -> &str {
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    &rest[..end]
}

/// The host of `[userinfo@]host[:port][/…]`, normalised.
fn host(rest: &str) -> Option<String> {
    let authority = authority(rest);
    let host_port = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = if host_port.starts_with('[') {
        // An IPv6 literal keeps its brackets; the port follows the `]`.
        match host_port.find(']') {
            Some(end) => &host_port[..=end],
            None => host_port,
        }
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = match host.strip_prefix("www.") {
        Some(bare) if !bare.is_empty() => bare.to_string(),
        _ => host,
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_kept_as_their_host() {
        for (raw, key) in [
            (
                "https://www.retailmenot.com/view/shop.example",
                "retailmenot.com",
            ),
            ("HTTP://WWW.Google.COM", "google.com"),
            (
                "https://user:pw@m.facebook.com:443/x?y=1#z",
                "m.facebook.com",
            ),
            ("https://www.google.com./search?q=x", "google.com"),
            ("//slickdeals.net/f/123", "slickdeals.net"),
            (
                "android-app://com.google.android.gm/",
                "com.google.android.gm",
            ),
            ("http://[2001:db8::1]:8080/", "[2001:db8::1]"),
            ("https://shop.example?utm_source=x", "shop.example"),
            // A bare host with a path is a URL too.
            ("example.com/x", "example.com"),
            ("www.Bing.com", "bing.com"),
            ("shop.example:8080/cart", "shop.example"),
        ] {
            assert_eq!(referrer_key(raw).as_deref(), Some(key), "{raw}");
        }
    }

    #[test]
    fn anything_else_is_a_campaign_source() {
        for (raw, key) in [
            ("Newsletter", "newsletter"),
            ("  retailmenot ", "retailmenot"),
            ("spring sale.2024", "spring sale.2024"),
            ("mailto:ann@example.com", "mailto:ann@example.com"),
        ] {
            assert_eq!(referrer_key(raw).as_deref(), Some(key), "{raw}");
        }
        for nothing in ["", "   ", "file:///etc/x", "https://", "https://user@/x"] {
            assert_eq!(referrer_key(nothing), None, "{nothing}");
        }
    }

    #[test]
    fn sites_match_their_subdomains_and_first_label() {
        let site = "retailmenot.com";
        for key in ["retailmenot.com", "uk.retailmenot.com", "retailmenot"] {
            assert!(matches_site(key, site), "{key}");
        }
        for key in [
            "notretailmenot.com",
            "retailmenot.com.evil.example",
            "retailmenot.co.uk",
            "google.com",
            "newsletter",
            "",
        ] {
            assert!(!matches_site(key, site), "{key}");
        }
        assert!(matches_site("topcashback.co.uk", "topcashback.co.uk"));
        assert!(matches_site("topcashback", "topcashback.co.uk"));
        assert!(!matches_site("anything", ""));
    }

    #[test]
    fn a_cart_keeps_distinct_keys_up_to_the_cap() {
        let mut keys = Vec::new();
        add_referrer(&mut keys, "google.com".into());
        add_referrer(&mut keys, "google.com".into());
        assert_eq!(keys, ["google.com"]);
        for n in 0..20 {
            add_referrer(&mut keys, format!("site{n}.example"));
        }
        assert_eq!(keys.len(), MAX_CART_REFERRERS);
        assert_eq!(keys[1], "site0.example");
    }
}
