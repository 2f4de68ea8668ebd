//! `cartback report` end to end on the bundled REES46 sample: the cart KPIs agree with what
//! the import counted, the dashboard file is written, and a bad period is named.

mod common;

use common::*;

#[test]
fn report_counts_the_imported_carts_and_writes_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let db = db.to_str().unwrap();
    let import = ok_json(common::import_sample(db));
    let html = dir.path().join("dashboard.html");
    let report = ok_json(cartback(&[
        "report",
        "--db",
        db,
        "--json",
        "--html",
        html.to_str().unwrap(),
    ]));
    let carts = &report["carts"];
    assert_eq!(carts["carts"], import["carts"], "{report}");
    let by_state = |state: &str| carts["by_state"][state].as_u64().unwrap_or(0);
    assert_eq!(by_state("purchased"), import["purchased"].as_u64().unwrap());
    assert_eq!(by_state("recovered"), import["recovered"].as_u64().unwrap());
    assert_eq!(
        carts["recovered_orders"].as_u64().unwrap(),
        by_state("recovered")
    );
    assert!(carts["revenue_minor"].as_i64().unwrap() > 0);
    assert_eq!(report["currency"], serde_json::json!("USD"));
    // An import has no engine decisions: no lift, and the verdict says so.
    assert_eq!(report["lift"]["treated"]["abandonments"], 0);
    assert!(
        report["lift"]["verdict"]
            .as_str()
            .unwrap()
            .starts_with("No settled abandonment")
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100]);
    assert_eq!(page.matches("<svg").count(), 4);

    let text = cartback(&["report", "--db", db]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("abandonment rate"), "{text}");
    assert!(
        text.contains(&format!(
            "carts                                  {}",
            import["carts"]
        )),
        "{text}"
    );

    let out = cartback(&["report", "--db", db, "--since", "last week"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`since`: \"last week\""), "{stderr}");
}
