//! Crash points for tests, shared by the app's core and the server. With
//! the `failpoints` feature and `DOORSTEP_FAILPOINT=name:n` set, the
//! process aborts — as a kill or a flat battery would stop it — the n-th
//! time `name` is reached. Without the feature, [`hit`] is empty.

#[cfg(feature = "failpoints")]
static HITS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Reached a named point.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    let Ok(setting) = std::env::var("DOORSTEP_FAILPOINT") else {
        return;
    };
    let (point, nth) = setting.split_once(':').unwrap_or((setting.as_str(), "1"));
    if point != name {
        return;
    }
    let nth: u32 = nth.parse().unwrap_or(1);
    if HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == nth {
        std::process::abort();
    }
}

/// Reached a named point.
#[cfg(not(feature = "failpoints"))]
pub fn hit(_name: &str) {}
