//! What every handler shares: the store, the service definitions, the clock.

use std::sync::Arc;

use doorstep_shared::service::ServiceCatalog;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::store::{SqliteStore, StoreError};

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    store: Arc<SqliteStore>,
    services: Arc<ServiceCatalog>,
    clock: Arc<dyn Clock>,
}

impl AppState {
    /// Bundles the server's parts.
    pub fn new(store: SqliteStore, services: ServiceCatalog, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: Arc::new(store),
            services: Arc::new(services),
            clock,
        }
    }

    /// The service definitions.
    pub fn services(&self) -> &ServiceCatalog {
        &self.services
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Runs blocking storage work off the async threads.
    pub async fn with_store<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
    }
}
