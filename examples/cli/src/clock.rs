//! The time of day as the vault records it (milliseconds) and as the sync
//! state records a session token's expiry (seconds), both since the epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promptvault::Timestamp;

/// Since the epoch; zero for a clock set before it.
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Now, for the changes a command makes.
pub(crate) fn now() -> Timestamp {
    Timestamp(u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX))
}

/// Now in whole seconds.
pub(crate) fn unix_secs() -> u64 {
    since_epoch().as_secs()
}
