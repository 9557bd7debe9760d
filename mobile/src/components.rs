//! Pieces shared by screens.

mod sync_status;

pub use sync_status::{SyncStatus, SyncStatusLine};
