//! The set of service definitions a server or device works with.

use std::collections::BTreeMap;

use super::{DefinitionError, DefinitionProblem, ServiceDefinition};
use crate::ids::ServiceId;

/// The definitions shipped with Doorstep, built into every binary so the
/// app knows them offline. A server may load more from its services folder.
const BUILTIN: &[(&str, &str)] = &[
    (
        "assets/services/housing-repair.toml",
        include_str!("../../../assets/services/housing-repair.toml"),
    ),
    (
        "assets/services/waste-round.toml",
        include_str!("../../../assets/services/waste-round.toml"),
    ),
    (
        "assets/services/clinical-waste.toml",
        include_str!("../../../assets/services/clinical-waste.toml"),
    ),
    (
        "assets/services/bulky-waste.toml",
        include_str!("../../../assets/services/bulky-waste.toml"),
    ),
    (
        "assets/services/social-prescribing.toml",
        include_str!("../../../assets/services/social-prescribing.toml"),
    ),
    (
        "assets/services/missed-collection.toml",
        include_str!("../../../assets/services/missed-collection.toml"),
    ),
];

/// Service definitions by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceCatalog {
    services: BTreeMap<ServiceId, ServiceDefinition>,
}

impl ServiceCatalog {
    /// The definitions shipped in `assets/services/`.
    pub fn builtin() -> Result<Self, DefinitionError> {
        Self::from_sources(BUILTIN.iter().copied())
    }

    /// Parses `(file name, contents)` pairs. A later file with the same id
    /// as an earlier one is an error, not a silent override.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, DefinitionError> {
        let mut catalog = Self::default();
        for (file, source) in sources {
            catalog.add(ServiceDefinition::parse(file, source)?, file)?;
        }
        Ok(catalog)
    }

    /// Adds a definition; a second definition of the same id is refused.
    fn add(&mut self, definition: ServiceDefinition, file: &str) -> Result<(), DefinitionError> {
        if self.services.contains_key(&definition.id) {
            return Err(DefinitionError {
                file: file.to_owned(),
                line: 1,
                column: 1,
                problem: DefinitionProblem::Duplicate {
                    what: "service",
                    id: definition.id.to_string(),
                },
            });
        }
        self.services.insert(definition.id.clone(), definition);
        Ok(())
    }

    /// Replaces or adds definitions from a council's own files.
    pub fn with_overrides<'a>(
        mut self,
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, DefinitionError> {
        let overrides = Self::from_sources(sources)?;
        self.services.extend(overrides.services);
        Ok(self)
    }

    /// A definition by id.
    pub fn get(&self, id: &ServiceId) -> Option<&ServiceDefinition> {
        self.services.get(id)
    }

    /// Every definition, by id.
    pub fn iter(&self) -> impl Iterator<Item = &ServiceDefinition> {
        self.services.values()
    }

    /// How many definitions there are.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}
