//! Issue 4 (placeholder until the webhook tests land).
use crate::support::Client;
pub const TESTS: &[(&str, fn(&Client))] = &[];
