//! `cartback purge` end to end on the bundled REES46 sample (events of October 2019): a
//! cutoff after all of it removes every event the import stored and every closed cart, the
//! carts the import left open stay (open carts are kept whatever their age), a second purge
//! removes nothing, and a retention shorter than 8 days is refused naming the flag.

mod common;

use common::*;

fn count(value: &serde_json::Value, field: &str) -> u64 {
    value[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
}

#[test]
fn purge_removes_what_the_import_stored_before_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let db = db.to_str().unwrap();
    let import = ok_json(common::import_sample(db));
    let closed = ["purchased", "recovered", "expired"]
        .iter()
        .map(|state| count(&import, state))
        .sum::<u64>();
    let open = count(&import, "carts") - closed;
    assert!(
        closed > 0 && count(&import, "events_in_store") > 0,
        "{import}"
    );

    let purge = ok_json(cartback(&[
        "purge",
        "--older-than",
        "30d",
        "--db",
        db,
        "--json",
    ]));
    assert_eq!(count(&purge, "events"), count(&import, "events_in_store"));
    assert_eq!(count(&purge, "carts"), closed, "{purge}");
    // An import has no engine records.
    for field in ["decisions", "messages", "tracking_events"] {
        assert_eq!(count(&purge, field), 0, "{purge}");
    }
    assert_eq!(purge["older_than"], "30d");
    assert!(purge["cutoff"].as_str().unwrap().ends_with('Z'), "{purge}");

    // What is left: no event, and only the carts the import left open (October 2019's last
    // hours), which a purge keeps whatever their age.
    let report = ok_json(cartback(&["report", "--db", db, "--json"]));
    let carts = &report["carts"];
    assert_eq!(count(carts, "carts"), open, "{report}");
    assert_eq!(count(carts, "orders"), 0, "{report}");
    for state in ["purchased", "recovered", "expired"] {
        assert!(carts["by_state"].get(state).is_none(), "{report}");
    }

    let again = cartback(&["purge", "--older-than", "400d", "--db", db]);
    assert!(again.status.success());
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("0 events, 0 carts, 0 decisions, 0 messages, 0 tracking events"),
        "{text}"
    );
}

#[test]
fn a_retention_shorter_than_eight_days_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let out = cartback(&["purge", "--older-than", "2d", "--db", db.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--older-than 2d"), "{stderr}");
    assert!(stderr.contains("at least 8d"), "{stderr}");
    // Refused before the store is opened: no file was made.
    assert!(!db.exists());
    let out = cartback(&["purge", "--older-than", "a while"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--older-than"), "{stderr}");
}
