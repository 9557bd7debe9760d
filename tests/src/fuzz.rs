//! The fuzz targets: what the server reads from anyone, each a function of
//! bytes that must answer (accept or refuse) and never panic. The `fuzz`
//! binary (`tests/bin/fuzz.rs`) mutates the committed corpus for as long
//! as it is told; the `fuzz_corpus` test runs every committed input
//! through its target on every CI run.

use std::path::PathBuf;
use std::sync::OnceLock;

use automerge::{ActorId, AutoCommit};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::memory::MemoryStore;
use doorstep_shared::sync::server::{SyncServer, scope_record};
use doorstep_shared::sync::store::{Author, DeviceIdentity, SyncStore};
use doorstep_shared::sync::wire::{Cursor, DocumentId, Push, SyncRequest, TenantRequest};

/// A reader the server runs on untrusted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `SyncRequest::decode`: the sync wire decoder.
    Wire,
    /// A device's push of raw changes to a job, through the sync server's
    /// checks (Automerge's change parser, the write policy, the workflow).
    Push,
    /// A photo file as the app's and the report form's photo processing
    /// reads it.
    Photo,
    /// A service definition file.
    Service,
    /// A jobs file and a property list, as the back office reads them.
    Csv,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 5] = [
        Target::Wire,
        Target::Push,
        Target::Photo,
        Target::Service,
        Target::Csv,
    ];

    /// Its name on the command line and in the corpus folder.
    pub fn name(self) -> &'static str {
        match self {
            Target::Wire => "wire",
            Target::Push => "push",
            Target::Photo => "photo",
            Target::Service => "service",
            Target::Csv => "csv",
        }
    }

    /// The target called `name`.
    pub fn named(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|target| target.name() == name)
    }

    /// Its committed corpus of interesting inputs.
    pub fn corpus(self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join(self.name())
    }

    /// Runs one input. Refusals are answers; only a panic is a finding.
    pub fn run(self, input: &[u8]) {
        match self {
            Target::Wire => {
                let _ = SyncRequest::decode(input);
            }
            Target::Push => push(input),
            Target::Photo => {
                let _ = doorstep_shared::photo::process(input, &Default::default());
            }
            Target::Service => {
                let text = String::from_utf8_lossy(input);
                let _ = ServiceDefinition::parse("fuzzed.toml", &text);
            }
            Target::Csv => {
                let _ = doorstep_server::office::readers::jobs_file(input, catalog());
                let _ = doorstep_server::office::readers::property_list(input);
            }
        }
    }
}

fn catalog() -> &'static ServiceCatalog {
    static CATALOG: OnceLock<ServiceCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| ServiceCatalog::builtin().unwrap_or_default())
}

const TENANT: TenantId = TenantId::from_u128(0xf00);
const JOB: JobId = JobId::from_u128(0xf01);
const OPERATIVE: UserId = UserId::from_u128(0xf02);

/// A job assigned to an operative, in a store of its own.
fn world() -> Option<MemoryStore> {
    let services = catalog();
    let service = services.get(&"housing-repair".parse().ok()?)?;
    let now = doorstep_shared::time::Timestamp::from_millis(1_795_765_800_000);
    let job = doorstep_shared::demo::job(service, 1, "1 Fuzz Street, Worthing, BN11 1AA", now);
    let mut doc = job.create_document(ActorId::from(vec![0xf0; 16])).ok()?;
    doorstep_shared::job::OfficeEditor::new(&mut doc)
        .ok()?
        .assign(Some(doorstep_shared::job::Assignee::User(OPERATIVE)))
        .ok()?;
    let mut store = MemoryStore::new();
    let changes = doc
        .get_changes(&[])
        .into_iter()
        .map(|change| (Author::Server, change))
        .collect();
    let record = scope_record(&doc, DocumentId::Job(JOB), services).ok()?;
    store
        .append(TENANT, DocumentId::Job(JOB), &mut doc, changes, record)
        .ok()?;
    Some(store)
}

/// Pushes the input, split at 0xff bytes into raw changes, to the job as
/// its operative's phone.
fn push(input: &[u8]) {
    let Some(mut store) = world() else {
        return;
    };
    let who = DeviceIdentity {
        device: DeviceId::from_u128(0xf03),
        user: OPERATIVE,
        role: Role::Operative,
        teams: Default::default(),
        tenants: [TENANT].into_iter().collect(),
        actor: ActorId::from(vec![0xf3; 16]),
    };
    let changes: Vec<Vec<u8>> = input
        .split(|byte| *byte == 0xff)
        .map(<[u8]>::to_vec)
        .collect();
    let request = SyncRequest {
        request_id: 1,
        tenants: vec![TenantRequest {
            tenant: TENANT,
            cursor: Cursor::default(),
            pushes: vec![Push {
                doc: DocumentId::Job(JOB),
                changes,
            }],
            definitions: None,
        }],
    };
    let server = SyncServer {
        services: catalog(),
        actor: ActorId::from(vec![0xf0; 16]),
        system: Actor {
            user: UserId::from_u128(0xf04),
            role: Role::System,
            device: None,
        },
    };
    let now = doorstep_shared::time::Timestamp::from_millis(1_795_769_400_000);
    let _ = server.handle(&mut store, &who, now, &request);
}

/// A valid change to the fuzz job by its operative, for seeding the push
/// corpus: a note written on the phone.
pub fn valid_push() -> Vec<u8> {
    let Some(mut store) = world() else {
        return Vec::new();
    };
    let Ok(Some((_, mut doc))) = store.load(DocumentId::Job(JOB)) else {
        return Vec::new();
    };
    let before = doc.get_heads();
    doc.set_actor(ActorId::from(vec![0xf3; 16]));
    let me = Actor {
        user: OPERATIVE,
        role: Role::Operative,
        device: Some(DeviceId::from_u128(0xf03)),
    };
    if let Ok(mut editor) = JobEditor::new(&mut doc, me) {
        let _ = editor.update_notes("Fuzzed note");
    }
    let changes: Vec<Vec<u8>> = doc
        .get_changes(&before)
        .into_iter()
        .map(|change| change.raw_bytes().to_vec())
        .collect();
    changes.join(&0xff)
}

/// An empty document, for the corpus.
pub fn empty_change() -> Vec<u8> {
    let mut doc = AutoCommit::new();
    doc.commit();
    doc.get_changes(&[])
        .first()
        .map(|change| change.raw_bytes().to_vec())
        .unwrap_or_default()
}

/// Interesting starting inputs for each target, for `fuzz seed`: valid
/// messages and files, and the edges the decoders must refuse.
pub fn seeds(target: Target) -> Vec<(String, Vec<u8>)> {
    let named = |name: &str, bytes: Vec<u8>| (name.to_owned(), bytes);
    match target {
        Target::Wire => {
            let request = |pushes: Vec<Push>, definitions| SyncRequest {
                request_id: 7,
                tenants: vec![TenantRequest {
                    tenant: TENANT,
                    cursor: Cursor { seq: 3, scope: 1 },
                    pushes,
                    definitions,
                }],
            };
            let push = Push {
                doc: DocumentId::Job(JOB),
                changes: vec![valid_push().split(|b| *b == 0xff).next().unwrap_or_default().to_vec()],
            };
            let listed = doorstep_shared::sync::wire::HeldDefinitions::List(Vec::new());
            let mut flood = request(vec![push.clone()], None).encode();
            // A count that claims far more than the message holds.
            flood.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
            vec![
                named("empty-request", request(Vec::new(), None).encode()),
                named("one-push", request(vec![push.clone()], None).encode()),
                named("with-definitions", request(vec![push], Some(listed)).encode()),
                named("trailing-count", flood),
                named("update-required", doorstep_shared::sync::wire::update_required("old")),
                named("changed-notice", doorstep_shared::sync::wire::changed_notice(TENANT)),
            ]
        }
        Target::Push => vec![
            named("a-note", valid_push()),
            named("empty-change", empty_change()),
            named("nothing", Vec::new()),
        ],
        Target::Photo => vec![
            named("camera-jpeg", crate::camera_file(64, 48)),
            named("jpeg-header-only", crate::camera_file(64, 48)[..200].to_vec()),
            named("png-signature", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x7f\xff\0\0\x7f\xff\x08\x06".to_vec()),
        ],
        Target::Service => {
            let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/services");
            let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(folder)
                .map(|entries| {
                    entries
                        .filter_map(|entry| {
                            let path = entry.ok()?.path();
                            Some((path.file_stem()?.to_string_lossy().into_owned(), std::fs::read(&path).ok()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            files.push(named("pest-control", crate::COUNCIL_SERVICE.as_bytes().to_vec()));
            files.sort();
            files
        }
        Target::Csv => vec![
            named(
                "jobs",
                b"service,address,priority,assignee,name,phone,email,description\n\
                  housing-repair,\"5 Ham Way, Worthing, BN11 2QZ\",urgent,Priya Sharma,Ana Costa,07700 900501,ana@example.org,Tap\n"
                    .to_vec(),
            ),
            named(
                "properties",
                b"address,uprn,containers,note\n\"1 Ham Way, Worthing\",100061,refuse_240l x2; recycling_box,Gate\n".to_vec(),
            ),
            named("bom-and-quotes", b"\xef\xbb\xbfaddress\n\"unterminated\n".to_vec()),
            named("not-utf8", vec![0x61, 0x0a, 0xff, 0xfe, 0x0a]),
        ],
    }
}
