//! Loading service definitions: the built-in ones, plus a council's own
//! files from a folder, which add services or replace built-in ones.

use std::path::Path;

use doorstep_shared::service::{DefinitionError, ServiceCatalog};

/// Service definitions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The folder or a file could not be read.
    #[error("could not read {path}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A definition is malformed.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
}

/// The built-in services, with the `*.toml` files of `folder` (if given)
/// added or replacing built-in ones of the same id.
pub fn load(folder: Option<&Path>) -> Result<ServiceCatalog, ServicesError> {
    let builtin = ServiceCatalog::builtin()?;
    let Some(folder) = folder else {
        return Ok(builtin);
    };
    let read_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| ServicesError::Read { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(read_error(folder))? {
        let path = entry.map_err(read_error(folder))?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).map_err(read_error(&path))?;
            files.push((path.display().to_string(), text));
        }
    }
    files.sort();
    Ok(builtin.with_overrides(files.iter().map(|(f, t)| (f.as_str(), t.as_str())))?)
}
