//! Demo data, written on first start when the database is empty: one council,
//! a day of housing repairs and collections in different states, and a waste
//! round, all made through the same editors and workflow rules as real work.

use automerge::{ActorId, AutoCommit};
use doorstep_shared::contact::{CONTACT_SCHEMA_VERSION, Channel, Contact};
use doorstep_shared::ids::{JobId, Name, PropertyId, RoundId, TeamId, TenantId, UserId};
use doorstep_shared::job::{Appointment, Assignee, JobEditor, OfficeEditor};
use doorstep_shared::prelude::demo as build;
use doorstep_shared::service::{ServiceCatalog, ServiceDefinition};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::{Actor, Role};

use crate::secrets::NoRandomness;
use crate::store::{Store, StoreError, run_sync};

/// The demo council.
pub const DEMO_TENANT: TenantId = TenantId::from_u128(0xd00);

/// Demo data could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Storage failed.
    #[error("could not store the demo data")]
    Store(#[from] StoreError),
    /// A document edit failed.
    #[error("could not build a demo document")]
    Document(#[from] doorstep_shared::document::DocumentError),
    /// The shipped definitions lack something the demo uses.
    #[error("the demo needs {0}, which the service definitions do not provide")]
    Definitions(&'static str),
    /// No randomness for enrolment codes.
    #[error("could not make enrolment codes")]
    Randomness(#[from] NoRandomness),
    /// A demo job could not be walked to its state.
    #[error("could not walk a demo job to its state")]
    Walk(#[from] doorstep_shared::demo::WalkError),
    /// The demo dispatcher's password could not be hashed.
    #[error("could not set the demo dispatcher's password")]
    Password(#[from] crate::office::staff::HashFailed),
}

/// The demo dispatcher's sign-in email for the back office.
pub const DEMO_DISPATCHER_EMAIL: &str = "dan.okafor@example.org";
/// The demo dispatcher (Dan Okafor).
pub const DEMO_DISPATCHER: UserId = UserId::from_u128(0xd01);

/// Gives the demo dispatcher a back-office account with `password` (a new
/// one each start, so the command can print it), as the demo council's
/// administrator; returns the email to sign in with.
pub fn set_dispatcher_password(store: &Store, password: &str) -> Result<&'static str, SeedError> {
    let hash = crate::office::staff::hash_password(password)?;
    store.put_staff_account(DEMO_DISPATCHER, DEMO_DISPATCHER_EMAIL, &hash)?;
    store.grant_staff_role(
        DEMO_DISPATCHER,
        DEMO_TENANT,
        crate::store::staff::StaffRole::Admin,
    )?;
    Ok(DEMO_DISPATCHER_EMAIL)
}

/// A demo job: its service, address, slot (hours after 08:00 today) and the
/// state its workflow walks it to after creation.
struct DemoJob {
    service: &'static str,
    address: &'static str,
    notes: &'static str,
    slot: Option<(i64, i64)>,
    state: Option<&'static str>,
    /// The resident's name and phone (Ofcom's drama range: never a real
    /// line).
    resident: (&'static str, &'static str),
}

const JOBS: &[DemoJob] = &[
    DemoJob {
        service: "housing-repair",
        address: "Flat 4, 18 Marine Parade, Worthing, BN11 3PT",
        notes: "Kitchen tap dripping constantly. Resident works nights: knock loudly.",
        slot: Some((0, 2)),
        state: Some("in_progress"),
        resident: ("Margaret Ellis", "07700 900101"),
    },
    DemoJob {
        service: "housing-repair",
        address: "7 Tarring Road, Worthing, BN11 4SS",
        notes: "Bathroom extractor fan not working; mould starting on ceiling.",
        slot: Some((2, 4)),
        state: Some("booked"),
        resident: ("Tomasz Nowak", "07700 900102"),
    },
    DemoJob {
        service: "housing-repair",
        address: "23 Church Walk, Lancing, BN15 8AA",
        notes: "Back door lock stiff, key hard to turn.",
        slot: Some((5, 7)),
        state: Some("booked"),
        resident: ("Aisha Rahman", "01903 900103"),
    },
    DemoJob {
        service: "housing-repair",
        address: "2 Brooklands Road, Sompting, BN15 0DD",
        notes: "Radiator in front bedroom cold at the top.",
        slot: None,
        state: None,
        resident: ("Graham Pike", "07700 900104"),
    },
    DemoJob {
        service: "bulky-waste",
        address: "56 Downview Road, Worthing, BN11 4QT",
        notes: "Sofa and two dining chairs, left by the front gate.",
        slot: Some((0, 9)),
        state: None,
        resident: ("Helen Carter", "07700 900105"),
    },
    DemoJob {
        service: "clinical-waste",
        address: "11 Shoreham Road, Lancing, BN15 9SE",
        notes: "Sharps bin, blue-lidded, at the side door.",
        slot: Some((1, 5)),
        state: Some("scheduled"),
        resident: ("Joyce Barnes", "01903 900106"),
    },
    DemoJob {
        service: "social-prescribing",
        address: "8 Ashacre Lane, Worthing, BN13 2DE",
        notes: "Referred by GP: lives alone since bereavement, interested in walking groups.",
        slot: None,
        state: None,
        resident: ("Peter Quinn", "07700 900107"),
    },
];

const ROUND_STREET: &[&str] = &[
    "1 Ham Way, Worthing, BN11 2QZ",
    "3 Ham Way, Worthing, BN11 2QZ",
    "5 Ham Way, Worthing, BN11 2QZ",
    "7 Ham Way, Worthing, BN11 2QZ",
    "9 Ham Way, Worthing, BN11 2QZ",
    "2 Ham Way, Worthing, BN11 2QZ",
    "4 Ham Way, Worthing, BN11 2QZ",
    "6 Ham Way, Worthing, BN11 2QZ",
];

/// A demo person and the code that enrols a phone for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    /// Their name.
    pub name: &'static str,
    /// Their role.
    pub role: Role,
    /// A one-time enrolment code, valid for a week.
    pub code: String,
}

/// The demo's reported repair with no appointment yet (HR-00004): the
/// one a visitor books through its tracking link.
pub const DEMO_WAITING_JOB: JobId = JobId::from_u128(0xd00_0004);

/// The demo operative all the demo jobs are assigned to.
pub const DEMO_OPERATIVE: UserId = UserId::from_u128(0xd02);
/// The demo crew, which works the demo round.
pub const DEMO_CREW: TeamId = TeamId::from_u128(0xd03);

/// Writes the demo data if the database holds no documents, and returns an
/// enrolment code for each demo person; `None` if there was data already.
/// `new_code` makes enrolment codes.
pub fn seed_if_empty(
    store: &Store,
    services: &ServiceCatalog,
    server: &ActorId,
    now: Timestamp,
    mut new_code: impl FnMut() -> Result<String, NoRandomness>,
) -> Result<Option<Vec<DemoLogin>>, SeedError> {
    if store.count_documents()? > 0 {
        return Ok(None);
    }
    store.put_tenant(DEMO_TENANT, "Adur & Worthing Councils (demo)")?;
    let today_8am = Timestamp::at(now.date(), 8, 0);
    let dispatcher = Actor {
        user: DEMO_DISPATCHER,
        role: Role::Dispatcher,
        device: None,
    };
    let operative = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: None,
    };
    let crew_member = UserId::from_u128(0xd04);
    let people = [
        ("Dan Okafor", dispatcher.user, Role::Dispatcher),
        ("Priya Sharma", operative.user, Role::Operative),
        ("Sam Lee", crew_member, Role::Crew),
    ];
    let mut logins = Vec::new();
    for (name, user, role) in people {
        store.create_user(user, name, role, &[DEMO_TENANT])?;
        let code = new_code()?;
        store.create_enrolment(&code, user, None, now.plus_minutes(7 * 24 * 60))?;
        logins.push(DemoLogin { name, role, code });
    }
    store.create_team(DEMO_CREW, DEMO_TENANT, "Ham Way crew", &[crew_member])?;
    let mut request_number = 0u128;
    for (n, demo) in (1u128..).zip(JOBS) {
        let service = service(services, demo.service)?;
        let number = store.next_reference(DEMO_TENANT, &service.reference_prefix)?;
        let mut doc =
            build::job(service, number, demo.address, now).create_document(server.clone())?;
        let mut office = OfficeEditor::new(&mut doc)?;
        if let Some((from, to)) = demo.slot {
            office.set_appointment(Some(Appointment {
                starts: today_8am.plus_minutes(from * 60),
                ends: today_8am.plus_minutes(to * 60),
            }))?;
        }
        office.assign(Some(Assignee::User(operative.user)))?;
        JobEditor::new(&mut doc, dispatcher.clone())?.update_notes(demo.notes)?;
        if let Some(state) = demo.state {
            let to = state
                .parse()
                .map_err(|_| SeedError::Definitions("a demo state"))?;
            build::walk_job(
                &mut doc,
                service,
                &to,
                &[dispatcher.clone(), operative.clone()],
                now,
                || {
                    request_number += 1;
                    0xd30_0000 + request_number
                },
            )?;
        }
        let job = JobId::from_u128(0xd00_0000 + n);
        store_new(store, services, DocumentId::Job(job), &mut doc)?;
        let (name, phone) = demo.resident;
        // Two residents also gave an email address, so the demo shows both.
        let email = match n {
            1 => Some("margaret.ellis@example.org"),
            2 => Some("tomasz.nowak@example.org"),
            _ => None,
        };
        let contact = Contact {
            schema_version: CONTACT_SCHEMA_VERSION,
            job,
            name: name.to_owned(),
            phone: Some(
                phone
                    .parse()
                    .map_err(|_| SeedError::Definitions("a valid demo phone number"))?,
            ),
            email: email
                .map(str::parse)
                .transpose()
                .map_err(|_| SeedError::Definitions("a valid demo email address"))?,
            preferred_channel: Channel::Sms,
            sms_opt_out: false,
        };
        let mut contact = contact.create_document(server.clone())?;
        store_new(store, services, DocumentId::Contact(job), &mut contact)?;
    }

    let round_service = service(services, "waste-round")?;
    let stops: Vec<(PropertyId, &str)> = (1u128..)
        .zip(ROUND_STREET)
        .map(|(n, line)| (PropertyId::from_u128(0xd10_0000 + n), *line))
        .collect();
    let container: Name = "refuse_240l"
        .parse()
        .map_err(|_| SeedError::Definitions("a container name"))?;
    let round = build::round(
        round_service,
        "WR-HAMWAY",
        now.date(),
        DEMO_CREW,
        &stops,
        &container,
    );
    let mut doc = round.create_document(server.clone())?;
    let round_id = DocumentId::Round(RoundId::from_u128(0xd20_0001));
    store_new(store, services, round_id, &mut doc)?;
    Ok(Some(logins))
}

/// Stores a document the server made, with all its changes as the server's.
fn store_new(
    store: &Store,
    services: &ServiceCatalog,
    id: DocumentId,
    doc: &mut AutoCommit,
) -> Result<(), SeedError> {
    run_sync(store, services, |sync| {
        crate::intake::store_new(sync, services, DEMO_TENANT, id, doc)
    })?;
    Ok(())
}

fn service<'a>(
    services: &'a ServiceCatalog,
    id: &'static str,
) -> Result<&'a ServiceDefinition, SeedError> {
    id.parse()
        .ok()
        .and_then(|id| services.get(&id))
        .ok_or(SeedError::Definitions(id))
}

/// What a demo start prints once it is listening: the back office's
/// sign-in (a fresh password each start) and the phones' enrolment codes.
#[derive(Debug, Clone)]
pub struct Welcome {
    /// The demo dispatcher's email.
    pub email: String,
    /// Their password for this run.
    pub password: String,
    /// Enrolment codes, if this start seeded the demo.
    pub logins: Vec<DemoLogin>,
}

impl Welcome {
    /// Seeds the demo into an empty store and sets a fresh password.
    pub fn prepare(
        store: &Store,
        services: &ServiceCatalog,
        node: &str,
        now: Timestamp,
    ) -> anyhow::Result<Self> {
        let actor = crate::state::node_actor(node);
        let seeded = seed_if_empty(store, services, &actor, now, crate::secrets::enrolment_code)?;
        let password = crate::secrets::enrolment_code()?;
        let email = set_dispatcher_password(store, &password)?;
        Ok(Self {
            email: email.to_owned(),
            password,
            logins: seeded.unwrap_or_default(),
        })
    }

    /// The words printed for the demo's visitor at `address`.
    pub fn banner(&self, address: std::net::SocketAddr) -> String {
        let mut banner = format!(
            "\nDoorstep demo is ready.\n\n  Back office   http://{address}/office/sign-in (an administrator: enrol phones under Devices)\n    email       {}\n    password    {}\n\n  Residents     http://{address}/report\n  Phone app     http://{address}/app/\n",
            self.email, self.password
        );
        for login in &self.logins {
            banner.push_str(&format!(
                "    enrolment code for {} ({}): {}\n",
                login.name, login.role, login.code
            ));
        }
        banner
    }
}

/// Logs where a demo's visitor finds the residents' pages, with a fresh
/// tracking link to a reported repair waiting for an appointment.
pub async fn show_resident_pages(state: &crate::state::AppState) -> anyhow::Result<()> {
    let base = state.public_url().to_owned();
    let token = crate::residents::issue(state, DEMO_TENANT, DEMO_WAITING_JOB, state.clock().now())
        .await
        .map_err(|error| anyhow::anyhow!("could not make a demo tracking link: {error}"))?;
    tracing::info!(
        "residents: report a repair at {base}/report, a missed bin at {base}/missed-bin"
    );
    tracing::info!("residents: follow HR-00004 (reported, not booked) at {base}/track/{token}");
    Ok(())
}
