//! The REES46 sample imported through the real binary, checked against counts made
//! independently from the raw CSV file (no cartback code involved in the reference).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rees46-2019-Oct-head.csv")
}

fn cartback(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cartback"))
        .args(args)
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "cartback {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Reference counts from the raw file, following the documented rules: a user's cart opens
/// at a `cart` event and closes at a purchase (all purchase rows of one session are one
/// order); a purchase without an open cart is a direct purchase; an open cart whose last
/// cart event is 30 minutes or more before the end of the log is abandoned, 5 minutes or
/// more idle, else active.
#[derive(Debug, Default)]
struct Reference {
    lines: u64,
    distinct_lines: u64,
    users: u64,
    purchase_sessions: u64,
    carts: u64,
    direct_purchases: u64,
    ordered_carts_with_adds: u64,
    abandoned: u64,
    idle: u64,
    active: u64,
}

fn seconds(time: &str) -> i64 {
    // "2019-10-01 02:50:00 UTC": the sample covers one day, so the clock time is enough.
    let hms: Vec<i64> = time[11..19]
        .split(':')
        .map(|p| p.parse().unwrap())
        .collect();
    hms[0] * 3600 + hms[1] * 60 + hms[2]
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut r = Reference::default();
    let mut distinct = HashSet::new();
    let mut users = HashSet::new();
    let mut purchase_sessions = HashSet::new();
    let mut per_user: HashMap<String, Vec<(String, String, i64)>> = HashMap::new();
    let mut end = 0;
    for line in text.lines().skip(1) {
        r.lines += 1;
        if !distinct.insert(line) {
            continue; // an identical line is the same event
        }
        let f: Vec<&str> = line.split(',').collect();
        let (kind, user, session, t) = (f[1], f[7], f[8], seconds(f[0]));
        end = end.max(t);
        users.insert(user.to_string());
        if kind == "purchase" {
            purchase_sessions.insert((user.to_string(), session.to_string()));
        }
        if kind == "cart" || kind == "purchase" {
            per_user.entry(user.to_string()).or_default().push((
                kind.to_string(),
                session.to_string(),
                t,
            ));
        }
    }
    r.distinct_lines = distinct.len() as u64;
    r.users = users.len() as u64;
    r.purchase_sessions = purchase_sessions.len() as u64;
    for events in per_user.values() {
        let mut open_since_last: Option<i64> = None;
        let mut orders = HashSet::new();
        for (kind, session, t) in events {
            if kind == "cart" {
                if open_since_last.is_none() {
                    r.carts += 1;
                }
                open_since_last = Some(*t);
            } else if orders.insert(session.clone()) {
                if open_since_last.take().is_some() {
                    r.ordered_carts_with_adds += 1;
                } else {
                    r.carts += 1;
                    r.direct_purchases += 1;
                }
            }
        }
        if let Some(last) = open_since_last {
            match end - last {
                gap if gap >= 30 * 60 => r.abandoned += 1,
                gap if gap >= 5 * 60 => r.idle += 1,
                _ => r.active += 1,
            }
        }
    }
    r
}

#[test]
fn import_and_episode_counts_match_an_independent_count_of_the_raw_file() {
    let reference = reference();
    // Sanity of the reference itself against the data README (17,434 events, 5 repeated lines).
    assert_eq!(reference.lines, 17_434);
    assert_eq!(reference.distinct_lines, 17_429);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cartback.db");
    let rejects = dir.path().join("rejects.ndjson");
    let (db, rejects, file) = (db.to_str().unwrap(), rejects.to_str().unwrap(), sample());
    let file = file.to_str().unwrap();
    let first = cartback(&[
        "import",
        "--format",
        "rees46",
        file,
        "--db",
        db,
        "--rejects",
        rejects,
        "--json",
    ]);

    assert_eq!(first["read"], reference.lines);
    assert_eq!(first["imported"], reference.distinct_lines);
    assert_eq!(
        first["duplicates"],
        reference.lines - reference.distinct_lines
    );
    assert_eq!(first["rejected"], 0);
    assert_eq!(first["users"], reference.users);
    assert_eq!(first["carts"], reference.carts);
    assert_eq!(
        first["purchased"].as_u64().unwrap() + first["recovered"].as_u64().unwrap(),
        reference.purchase_sessions
    );
    assert_eq!(first["abandoned"], reference.abandoned);
    assert_eq!(first["idle"], reference.idle);
    assert_eq!(first["active"], reference.active);
    assert!(
        !std::path::Path::new(rejects).exists(),
        "no reject file without rejections"
    );

    // The same file again changes nothing.
    let second = cartback(&[
        "import",
        "--format",
        "rees46",
        file,
        "--db",
        db,
        "--rejects",
        rejects,
        "--json",
    ]);
    assert_eq!(second["imported"], 0);
    assert_eq!(second["duplicates"], reference.lines);
    assert_eq!(second["events_in_store"], first["events_in_store"]);
    for key in [
        "users",
        "carts",
        "abandoned",
        "purchased",
        "recovered",
        "active",
        "idle",
        "expired",
    ] {
        assert_eq!(second[key], first[key], "{key} changed on re-import");
    }

    let csv = dir.path().join("episodes.csv");
    let episodes = cartback(&[
        "episodes",
        "--db",
        db,
        "--out",
        csv.to_str().unwrap(),
        "--json",
    ]);
    // One episode per cart that had items before its decision point: every ordered cart with
    // a cart event before the order, and every abandoned cart.
    assert_eq!(
        episodes["episodes"],
        reference.ordered_carts_with_adds + reference.abandoned
    );
    assert_eq!(episodes["positives"], reference.ordered_carts_with_adds);
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() as u64 - 1;
    assert_eq!(rows, episodes["episodes"].as_u64().unwrap());
}
