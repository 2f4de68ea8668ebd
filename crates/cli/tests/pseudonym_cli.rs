//! Pseudonymised imports and `cartback pseudonym` end to end on the bundled REES46 sample:
//! a keyed import stores pseudonyms only, tracks exactly the carts a plain import tracks, and
//! its pseudonyms reveal exactly the plain import's user ids; importing again stores nothing
//! new; the store then refuses no key and another key; the command round-trips ids.

mod common;

use common::{cartback_with, ok_json};
use std::collections::BTreeSet;

const KEY: &str = "an import key that is long enough to be accepted";

fn cartback(args: &[&str], key: Option<&str>) -> std::process::Output {
    match key {
        Some(key) => cartback_with(args, &[("CARTBACK_PSEUDONYMISE_KEY", key)]),
        None => common::cartback(args),
    }
}

fn import(db: &str, key: Option<&str>) -> std::process::Output {
    match key {
        Some(key) => common::import_sample_with(db, &[("CARTBACK_PSEUDONYMISE_KEY", key)]),
        None => common::import_sample(db),
    }
}

fn stored_user_ids(db: &str) -> BTreeSet<String> {
    let mut store = cartback_store::open(db).unwrap();
    let mut ids = BTreeSet::new();
    store
        .scan_events(&mut |e| {
            ids.insert(e.user_id);
        })
        .unwrap();
    store
        .scan_carts(&mut |c| {
            ids.insert(c.user_id);
        })
        .unwrap();
    ids
}

#[test]
fn a_keyed_import_stores_pseudonyms_of_exactly_the_shops_ids() {
    let dir = tempfile::tempdir().unwrap();
    let plain_db = dir.path().join("plain.db");
    let keyed_db = dir.path().join("keyed.db");
    let (plain_db, keyed_db) = (plain_db.to_str().unwrap(), keyed_db.to_str().unwrap());

    let plain = ok_json(import(plain_db, None));
    let keyed = ok_json(import(keyed_db, Some(KEY)));
    for field in [
        "imported",
        "duplicates",
        "events_in_store",
        "users",
        "carts",
        "abandoned",
        "purchased",
        "recovered",
        "expired",
    ] {
        assert_eq!(plain[field], keyed[field], "{field}: {plain} vs {keyed}");
    }
    assert!(keyed["imported"].as_u64().unwrap() > 0, "{keyed}");

    let shop_ids = stored_user_ids(plain_db);
    let pseudonyms = stored_user_ids(keyed_db);
    assert_eq!(shop_ids.len(), pseudonyms.len());
    assert!(pseudonyms.iter().all(|id| id.starts_with("ps_")));
    assert!(pseudonyms.is_disjoint(&shop_ids));
    // `cartback pseudonym --reveal` turns them back into exactly the shop's ids.
    let listed: Vec<&str> = pseudonyms.iter().map(String::as_str).collect();
    let mut args = vec!["pseudonym", "--reveal"];
    args.extend(&listed);
    let revealed = cartback(&args, Some(KEY));
    assert!(revealed.status.success(), "{revealed:?}");
    let revealed: BTreeSet<String> = String::from_utf8(revealed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(revealed, shop_ids);

    // The same file again: every event is a duplicate of a pseudonymised one.
    let again = ok_json(import(keyed_db, Some(KEY)));
    assert_eq!(again["imported"].as_u64(), Some(0), "{again}");
    assert_eq!(again["events_in_store"], keyed["events_in_store"]);

    // No key, or another key, is refused before anything is written.
    for (key, says) in [
        (None, "pseudonymised"),
        (
            Some("another key that is also long enough, but not it"),
            "another key",
        ),
    ] {
        let refused = import(keyed_db, key);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    // A key over the plain store is refused too.
    let refused = import(plain_db, Some(KEY));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("shop's own user ids"),
        "{stderr}"
    );
    assert_eq!(stored_user_ids(keyed_db), pseudonyms);
}

#[test]
fn the_pseudonym_command_round_trips_and_refuses_what_is_not_its_own() {
    let out = cartback(&["pseudonym", "alice", "bob"], Some(KEY));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let pseudonyms: Vec<&str> = text.lines().collect();
    assert_eq!(pseudonyms.len(), 2);
    assert!(pseudonyms.iter().all(|p| p.starts_with("ps_")));
    assert_ne!(pseudonyms[0], pseudonyms[1]);

    let mut args = vec!["pseudonym", "--reveal"];
    args.extend(&pseudonyms);
    let out = cartback(&args, Some(KEY));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "alice\nbob\n");

    // Another key does not reveal them; the failure names the line, and the exit code is 1.
    let out = cartback(&args, Some("a different key, long enough to be accepted"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("id 1:") && stderr.contains("not a pseudonym"),
        "{stderr}"
    );

    // A short key is refused with its length.
    let out = cartback(&["pseudonym", "alice"], Some("short"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"));

    // The fingerprint is stable and names the key.
    let fingerprint = |key| {
        String::from_utf8(cartback(&["pseudonym", "--fingerprint"], Some(key)).stdout).unwrap()
    };
    assert_eq!(fingerprint(KEY), fingerprint(KEY));
    assert_eq!(fingerprint(KEY).trim().len(), 16);
    assert_ne!(
        fingerprint(KEY),
        fingerprint("a different key, long enough to be accepted")
    );
}
