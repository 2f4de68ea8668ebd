//! The state file of a learned policy: `cartback-policy`'s [`cartback_policy::state_file`],
//! re-exported under the server's old path. It moved to the policy crate so `cartback ope`
//! can evaluate a state file on the engine's decision log with the same loader the server
//! uses.

pub use cartback_policy::state_file::*;
