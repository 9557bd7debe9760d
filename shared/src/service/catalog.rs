//! The set of service definitions a server or device works with, with the
//! text each was read from: a server hands definitions to phones as their
//! files, and a file's SHA-256 is its version.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// A definition's version: the SHA-256 of its file.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DefinitionVersion([u8; 32]);

impl DefinitionVersion {
    /// The version of a file's text.
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }
}

impl fmt::Display for DefinitionVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for DefinitionVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DefinitionVersion({self})")
    }
}

/// A digest of a set of definition versions: what a phone holds, or what
/// a server has, said in 16 bytes so an unchanged set costs a sync little.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DefinitionsDigest([u8; 16]);

impl DefinitionsDigest {
    /// The digest of `(service, version)` pairs, whatever their order.
    pub fn of<'a>(
        versions: impl IntoIterator<Item = (&'a ServiceId, &'a DefinitionVersion)>,
    ) -> Self {
        let sorted: BTreeMap<&ServiceId, &DefinitionVersion> = versions.into_iter().collect();
        let mut hasher = Sha256::new();
        for (service, version) in sorted {
            hasher.update(service.as_str().as_bytes());
            hasher.update([0]);
            hasher.update(version.0);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        let mut short = [0u8; 16];
        short.copy_from_slice(&digest[..16]);
        Self(short)
    }
}

/// One service's definition file, as a server hands it to phones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionFile {
    /// The service it defines (the file is `<service>.toml`).
    pub service: ServiceId,
    /// The file's text.
    pub text: String,
}

impl DefinitionFile {
    /// Its version.
    pub fn version(&self) -> DefinitionVersion {
        DefinitionVersion::of(&self.text)
    }

    /// The name it goes by in errors.
    fn file_name(&self) -> String {
        format!("{}.toml", self.service)
    }
}

/// Service definitions by id, each with the text it was read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceCatalog {
    services: BTreeMap<ServiceId, ServiceDefinition>,
    /// Each definition's file text and version, by service.
    texts: BTreeMap<ServiceId, (String, DefinitionVersion)>,
    /// Definitions received that this build cannot read, with why.
    unreadable: BTreeMap<ServiceId, String>,
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
            catalog.add(ServiceDefinition::parse(file, source)?, file, source)?;
        }
        Ok(catalog)
    }

    /// Adds a definition; a second definition of the same id is refused.
    fn add(
        &mut self,
        definition: ServiceDefinition,
        file: &str,
        text: &str,
    ) -> Result<(), DefinitionError> {
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
        self.texts.insert(
            definition.id.clone(),
            (text.to_owned(), DefinitionVersion::of(text)),
        );
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
        self.texts.extend(overrides.texts);
        Ok(self)
    }

    /// These definitions with the files a phone received from its server
    /// in their place. A file this build cannot read (a newer format, a
    /// rule it does not know) is kept out, and its service is named by
    /// [`ServiceCatalog::unreadable`] with the reason: its jobs show
    /// read-only instead of being misread.
    pub fn with_received<'a>(
        mut self,
        files: impl IntoIterator<Item = &'a DefinitionFile>,
    ) -> Self {
        for file in files {
            match ServiceDefinition::parse(&file.file_name(), &file.text) {
                Ok(definition) if definition.id == file.service => {
                    self.unreadable.remove(&file.service);
                    self.texts
                        .insert(file.service.clone(), (file.text.clone(), file.version()));
                    self.services.insert(file.service.clone(), definition);
                }
                Ok(definition) => {
                    self.forget(&file.service);
                    self.unreadable.insert(
                        file.service.clone(),
                        format!("its file defines {:?} instead", definition.id.as_str()),
                    );
                }
                Err(error) => {
                    self.forget(&file.service);
                    self.unreadable
                        .insert(file.service.clone(), error.problem.to_string());
                }
            }
        }
        self
    }

    fn forget(&mut self, service: &ServiceId) {
        self.services.remove(service);
        self.texts.remove(service);
    }

    /// A definition by id.
    pub fn get(&self, id: &ServiceId) -> Option<&ServiceDefinition> {
        self.services.get(id)
    }

    /// Why a service's definition, received from the server, cannot be read
    /// by this build, if it cannot.
    pub fn unreadable(&self, id: &ServiceId) -> Option<&str> {
        self.unreadable.get(id).map(String::as_str)
    }

    /// Every definition, by id.
    pub fn iter(&self) -> impl Iterator<Item = &ServiceDefinition> {
        self.services.values()
    }

    /// Every definition's file, by service.
    pub fn files(&self) -> impl Iterator<Item = DefinitionFile> + '_ {
        self.texts
            .iter()
            .map(|(service, (text, _))| DefinitionFile {
                service: service.clone(),
                text: text.clone(),
            })
    }

    /// Each service's version, by service.
    pub fn versions(&self) -> BTreeMap<ServiceId, DefinitionVersion> {
        self.texts
            .iter()
            .map(|(service, (_, version))| (service.clone(), *version))
            .collect()
    }

    /// The digest of every definition's version.
    pub fn digest(&self) -> DefinitionsDigest {
        DefinitionsDigest::of(
            self.texts
                .iter()
                .map(|(service, (_, version))| (service, version)),
        )
    }

    /// What a phone holding `held` lacks: the files it does not have at
    /// their current version, and the services it holds that are gone.
    pub fn changes_since(
        &self,
        held: &[(ServiceId, DefinitionVersion)],
    ) -> (Vec<DefinitionFile>, Vec<ServiceId>) {
        let holds = |service: &ServiceId, version: &DefinitionVersion| {
            held.iter().any(|(s, v)| s == service && v == version)
        };
        let changed = self
            .texts
            .iter()
            .filter(|(service, (_, version))| !holds(service, version))
            .map(|(service, (text, _))| DefinitionFile {
                service: service.clone(),
                text: text.clone(),
            })
            .collect();
        let removed = held
            .iter()
            .filter(|(service, _)| !self.texts.contains_key(service))
            .map(|(service, _)| service.clone())
            .collect();
        (changed, removed)
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
