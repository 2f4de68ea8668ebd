//! The OTTO RecSys JSONL line as serde types: `{"session": N, "events": [{"aid", "ts",
//! "type"}]}`. Extra fields are ignored.

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(expecting = "an OTTO session object {\"session\": …, \"events\": […]}")]
pub(super) struct WireSession {
    pub(super) session: u64,
    pub(super) events: Vec<WireEvent>,
}

#[derive(Deserialize)]
#[serde(expecting = "an OTTO event object {\"aid\": …, \"ts\": …, \"type\": …}")]
pub(super) struct WireEvent {
    pub(super) aid: u64,
    pub(super) ts: i64,
    #[serde(rename = "type")]
    pub(super) kind: WireKind,
}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum WireKind {
    Clicks,
    Carts,
    Orders,
}

impl WireKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            WireKind::Clicks => "clicks",
            WireKind::Carts => "carts",
            WireKind::Orders => "orders",
        }
    }
}
