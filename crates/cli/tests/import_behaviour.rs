//! `cartback import` end to end through the real binary: rejections with line numbers,
//! strict mode, empty input, re-import, out-of-order files and dry runs.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cartback"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `cartback import --format ndjson FILE --db DB --json` plus `extra`, its JSON summary.
fn import_ndjson(file: &Path, db: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "import",
        "--format",
        "ndjson",
        s(file),
        "--db",
        s(db),
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&run(&args))
}

const GOOD_ADD: &str = r#"{"type":"product_added","timestamp":"2024-05-01T10:00:00Z","user_id":"u1","items":[{"id":"p1","price":1999,"quantity":1}],"currency":"USD"}"#;
const GOOD_ORDER: &str = r#"{"type":"order_completed","timestamp":"2024-05-01T10:05:00Z","user_id":"u1","order_id":"o1","items":[{"id":"p1","price":1999}],"currency":"USD"}"#;

fn mixed_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("mixed.ndjson");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(GOOD_ADD.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(b"{\"type\":\"product_added\",\n"); // line 2: malformed JSON
    bytes.extend_from_slice(br#"{"type":"product_added","timestamp":"2024-05-01T10:01:00Z","user_id":"u2","items":[{"id":"p1","price":-5}],"currency":"USD"}"#);
    bytes.push(b'\n'); // line 3: negative price
    bytes.extend_from_slice(br#"{"type":"product_added","timestamp":"2999-01-01T00:00:00Z","user_id":"u3","items":[{"id":"p1","price":5}],"currency":"USD"}"#);
    bytes.push(b'\n'); // line 4: far future
    bytes.extend_from_slice(b"{\"type\":\"product_viewed\",\"user_id\":\"\xff\xfe\"}\n"); // line 5: invalid UTF-8
    bytes.push(b'\n'); // line 6: blank, ignored
    bytes.extend_from_slice(GOOD_ORDER.as_bytes()); // line 7
    bytes.push(b'\n');
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn bad_lines_are_rejected_with_line_and_field_and_good_lines_imported() {
    let dir = tempfile::tempdir().unwrap();
    let (file, db, rejects) = (
        mixed_file(dir.path()),
        dir.path().join("c.db"),
        dir.path().join("rejects.ndjson"),
    );
    let summary = json(&run(&[
        "import",
        "--format",
        "ndjson",
        s(&file),
        "--db",
        s(&db),
        "--rejects",
        s(&rejects),
        "--json",
    ]));
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["rejected"], 4);
    assert_eq!(summary["read"], 6);
    assert_eq!(summary["purchased"], 1);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at: Vec<u64> = lines.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(at, [2, 3, 4, 5]);
    assert_eq!(lines[1]["field"], "items[0].price");
    assert_eq!(lines[2]["field"], "timestamp");
    assert!(
        lines
            .iter()
            .all(|r| r["file"].as_str().unwrap().ends_with("mixed.ndjson"))
    );
    assert!(
        lines
            .iter()
            .all(|r| !r["message"].as_str().unwrap().is_empty())
    );
}

#[test]
fn strict_mode_imports_nothing_when_anything_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let (file, db, rejects) = (
        mixed_file(dir.path()),
        dir.path().join("c.db"),
        dir.path().join("r.ndjson"),
    );
    let out = run(&[
        "import",
        "--format",
        "ndjson",
        s(&file),
        "--db",
        s(&db),
        "--rejects",
        s(&rejects),
        "--strict",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rejected"], 4);
    assert_eq!(summary["imported"], 0);
    // The store was never opened, so nothing is in it.
    assert!(!db.exists());
}

#[test]
fn empty_file_imports_nothing_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (file, db) = (dir.path().join("empty.ndjson"), dir.path().join("c.db"));
    std::fs::write(&file, b"").unwrap();
    let summary = json(&run(&[
        "import",
        "--format",
        "ndjson",
        s(&file),
        "--db",
        s(&db),
        "--json",
    ]));
    assert_eq!(summary["read"], 0);
    assert_eq!(summary["carts"], 0);
}

#[test]
fn generated_events_import_once_and_fold_the_same_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gen.ndjson");
    let out = run(&[
        "gen-events",
        "--events",
        "3000",
        "--seed",
        "3",
        "--out",
        s(&file),
    ]);
    assert!(out.status.success());
    let db = dir.path().join("a.db");
    let first = json(&run(&[
        "import",
        "--format",
        "ndjson",
        s(&file),
        "--db",
        s(&db),
        "--json",
    ]));
    assert_eq!(first["imported"], 3000);
    assert_eq!(first["rejected"], 0);
    assert!(first["abandoned"].as_u64().unwrap() > 0);
    assert!(first["purchased"].as_u64().unwrap() > 0);
    let again = json(&run(&[
        "import",
        "--format",
        "ndjson",
        s(&file),
        "--db",
        s(&db),
        "--json",
    ]));
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicates"], 3000);

    // Reversed line order into a fresh store: the replay folds in time order, same carts.
    let text = std::fs::read_to_string(&file).unwrap();
    let reversed: Vec<&str> = text.lines().rev().collect();
    let rev_file = dir.path().join("reversed.ndjson");
    std::fs::write(&rev_file, reversed.join("\n")).unwrap();
    let other = json(&run(&[
        "import",
        "--format",
        "ndjson",
        s(&rev_file),
        "--db",
        s(&dir.path().join("b.db")),
        "--json",
    ]));
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
        assert_eq!(other[key], first[key], "{key}");
    }

    // A dry run does the same work in memory.
    let dry = json(&run(&[
        "import",
        "--format",
        "ndjson",
        s(&file),
        "--dry-run",
        "--json",
    ]));
    for key in [
        "imported",
        "users",
        "carts",
        "abandoned",
        "purchased",
        "recovered",
    ] {
        assert_eq!(dry[key], first[key], "{key}");
    }
}

#[test]
fn otto_sessions_import() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/otto-train-fixture.jsonl");
    // Independent count: every click and cart event is one event; the `orders` rows of a
    // session that share a timestamp are one order (862 raw rows in all).
    let (mut raw, mut expected, mut orders) = (0, 0, std::collections::HashSet::new());
    for line in std::fs::read_to_string(&file).unwrap().lines() {
        let session: serde_json::Value = serde_json::from_str(line).unwrap();
        for e in session["events"].as_array().unwrap() {
            raw += 1;
            if e["type"] == "orders" {
                if orders.insert((session["session"].as_u64(), e["ts"].as_u64())) {
                    expected += 1;
                }
            } else {
                expected += 1;
            }
        }
    }
    assert_eq!(raw, 862);
    let summary = json(&run(&[
        "import",
        "--format",
        "otto",
        s(&file),
        "--db",
        s(&dir.path().join("o.db")),
        "--json",
    ]));
    assert_eq!(summary["read"], expected);
    assert_eq!(summary["imported"], expected);
    assert_eq!(summary["rejected"], 0);
    assert_eq!(summary["users"], 20);
}

#[test]
fn unknown_format_and_missing_file_are_clear_errors() {
    let out = run(&["import", "--format", "csv", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("csv"));
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "import",
        "--format",
        "ndjson",
        "/nonexistent/file.ndjson",
        "--db",
        s(&dir.path().join("c.db")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.ndjson"));
}

/// Every cart of every user in the file, as stored.
fn all_carts(db: &Path, users: &[String]) -> Vec<cartback_core::Cart> {
    let mut store = cartback_store::SqliteStore::open(db).unwrap();
    let mut carts = Vec::new();
    for user in users {
        carts.extend(cartback_store::Store::carts_of_user(&mut store, user).unwrap());
    }
    carts
}

#[test]
fn the_fold_while_importing_equals_a_replay_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gen.ndjson");
    let out = run(&[
        "gen-events",
        "--events",
        "4000",
        "--seed",
        "5",
        "--out",
        s(&file),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut users: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["user_id"].to_string())
        .map(|quoted| quoted.trim_matches('"').to_string())
        .collect();
    users.sort();
    users.dedup();
    let write = |name: &str, lines: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    };
    let (early, late) = lines.split_at(lines.len() / 2);
    let reversed: Vec<&str> = lines.iter().rev().copied().collect();
    let import = |db: &str, file: &Path| import_ndjson(file, &dir.path().join(db), &[]);
    // The whole file into a new store: folded while importing.
    let whole = import("whole.db", &file);
    assert_eq!(whole["replayed"], false);
    // Two halves in time order: the second import folds the stored half first, then goes on.
    assert_eq!(
        import("halves.db", &write("early", early))["replayed"],
        false
    );
    let halves = import("halves.db", &write("late", late));
    assert_eq!(halves["replayed"], false);
    assert_eq!(halves["imported"], late.len());
    // Halves the other way round, and the file backwards: events arrive behind the lateness
    // window, so the store is replayed instead.
    import("swapped.db", &write("late2", late));
    let swapped = import("swapped.db", &write("early2", early));
    assert_eq!(swapped["replayed"], true);
    let backwards = import("backwards.db", &write("reversed", &reversed));
    assert_eq!(backwards["replayed"], true);
    // A re-import stores nothing and changes nothing.
    let again = import("whole.db", &file);
    assert_eq!(
        (again["imported"].as_u64(), again["replayed"].as_bool()),
        (Some(0), Some(false))
    );

    let expected = all_carts(&dir.path().join("whole.db"), &users);
    assert!(expected.len() > 50, "{}", expected.len());
    for (db, summary) in [
        ("halves.db", &halves),
        ("swapped.db", &swapped),
        ("backwards.db", &backwards),
        ("whole.db", &again),
    ] {
        assert_eq!(all_carts(&dir.path().join(db), &users), expected, "{db}");
        for key in [
            "users",
            "carts",
            "abandoned",
            "purchased",
            "recovered",
            "active",
            "idle",
            "expired",
            "events_in_store",
        ] {
            assert_eq!(summary[key], whole[key], "{db}: {key}");
        }
    }
}

#[test]
fn compact_rewrites_an_imported_store_with_small_pages_and_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let (file, db) = (mixed_file(dir.path()), dir.path().join("c.db"));
    let rejects = dir.path().join("rejects.ndjson");
    let import = |file: &Path| import_ndjson(file, &db, &["--rejects", s(&rejects)]);
    assert_eq!(import(&file)["imported"], 2);
    let report = json(&run(&[
        "compact",
        "--db",
        s(&db),
        "--page-size",
        "4096",
        "--json",
    ]));
    assert_eq!(report["page_size_before"], 16_384, "{report}");
    assert_eq!(report["page_size_after"], 4_096, "{report}");
    // Everything is still there: the same file imports nothing the second time.
    let again = import(&file);
    assert_eq!(
        (again["imported"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(again["events_in_store"], 2);
    // A page size SQLite cannot use is refused with the value named; a missing file too.
    let out = run(&["compact", "--db", s(&db), "--page-size", "3000"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("page size 3000"));
    let out = run(&["compact", "--db", s(&dir.path().join("none.db"))]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SQLite database"));
}
