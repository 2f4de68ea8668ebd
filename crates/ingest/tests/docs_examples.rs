//! Keeps `docs/events.md` honest: every input block (` ```json input:<format> `) must parse
//! into exactly the events of the ` ```json event ` block that follows it.

use cartback_core::Event;
use cartback_ingest::{EventReader, Format, ParseOptions, parse_shopify};
use std::path::PathBuf;

/// Fenced code blocks as (info string, body).
fn code_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => blocks.push(current.take().unwrap()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

fn parse_input(source: &str, body: &str) -> Vec<Event> {
    let options = ParseOptions::default();
    if let Some(topic) = source.strip_prefix("shopify:") {
        return parse_shopify(topic, body.trim().as_bytes(), &options)
            .unwrap()
            .into_iter()
            .collect();
    }
    let format: Format = source.parse().unwrap();
    let mut events = Vec::new();
    for parsed in EventReader::new(format, body.as_bytes(), options).unwrap() {
        let parsed = parsed.unwrap();
        assert!(
            parsed.rejections.is_empty(),
            "{source}: {:?}",
            parsed.rejections
        );
        events.extend(parsed.events);
    }
    events
}

#[test]
fn every_documented_example_parses_as_shown() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md");
    let markdown = std::fs::read_to_string(&path).expect("docs/events.md exists");
    let blocks = code_blocks(&markdown);
    let mut checked = 0;
    for (index, (info, body)) in blocks.iter().enumerate() {
        let Some(source) = info
            .split_whitespace()
            .nth(1)
            .and_then(|tag| tag.strip_prefix("input:"))
        else {
            continue;
        };
        let (next_info, expected_body) = blocks
            .get(index + 1)
            .expect("an event block follows every input");
        assert_eq!(next_info, "json event", "the block after input:{source}");
        let expected: Vec<Event> = expected_body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let actual = parse_input(source, body);
        let shown: Vec<String> = actual
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        assert_eq!(
            actual,
            expected,
            "input:{source} actually gives:\n{}",
            shown.join("\n")
        );
        checked += 1;
    }
    assert_eq!(checked, 11, "number of documented examples");
}
