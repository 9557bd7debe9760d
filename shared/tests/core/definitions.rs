//! Every shipped definition loads; malformed ones are refused naming the
//! file, the line and the problem.

use doorstep_shared::service::{
    DefinitionFile, DefinitionProblem, DefinitionVersion, ServiceCatalog, ServiceDefinition,
    ServiceKind,
};
use rstest::rstest;

use crate::setup::PEST_CONTROL;

#[test]
fn every_shipped_definition_loads() {
    let catalog = ServiceCatalog::builtin().unwrap();
    let ids: Vec<String> = catalog.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "bulky-waste",
            "clinical-waste",
            "housing-repair",
            "missed-collection",
            "social-prescribing",
            "waste-round"
        ]
    );
    for service in catalog.iter() {
        assert!(service.state(&service.initial).is_some(), "{}", service.id);
        assert!(!service.transitions.is_empty(), "{}", service.id);
    }
    let round = catalog.get(&"waste-round".parse().unwrap()).unwrap();
    assert_eq!(round.kind, ServiceKind::Round);
    assert!(
        catalog
            .get(&"clinical-waste".parse().unwrap())
            .unwrap()
            .photos
            .keep_originals
    );
}

#[test]
fn the_shipped_files_on_disk_are_the_ones_built_in() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/services");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| {
            let name = format!(
                "assets/services/{}",
                path.file_name().unwrap().to_string_lossy()
            );
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    let from_disk =
        ServiceCatalog::from_sources(files.iter().map(|(f, s)| (f.as_str(), s.as_str()))).unwrap();
    assert_eq!(from_disk, ServiceCatalog::builtin().unwrap());
}

#[test]
fn a_council_can_add_a_service_as_a_file() {
    let service = ServiceDefinition::parse("services/pest-control.toml", PEST_CONTROL).unwrap();
    assert_eq!(service.transitions[0].to.as_str(), "treated");
    let catalog = ServiceCatalog::builtin()
        .unwrap()
        .with_overrides([("services/pest-control.toml", PEST_CONTROL)])
        .unwrap();
    assert_eq!(catalog.len(), 7);
}

fn pest_control(text: &str) -> DefinitionFile {
    DefinitionFile {
        service: "pest-control".parse().unwrap(),
        text: text.into(),
    }
}

#[test]
fn a_definitions_version_is_its_files_sha256() {
    // printf 'id = "x"\n' | sha256sum
    assert_eq!(
        DefinitionVersion::of("id = \"x\"\n").to_string(),
        "1638c7994a1884687d07b0697a6618c8b30f1a10db28a1249041b67d57e50a4d"
    );
    let catalog = ServiceCatalog::builtin()
        .unwrap()
        .with_overrides([("services/pest-control.toml", PEST_CONTROL)])
        .unwrap();
    let versions = catalog.versions();
    assert_eq!(
        versions[&"pest-control".parse().unwrap()],
        DefinitionVersion::of(PEST_CONTROL)
    );
    assert_eq!(catalog.files().count(), 7);
}

#[test]
fn a_phone_holding_some_definitions_is_sent_only_what_changed() {
    let catalog = ServiceCatalog::builtin()
        .unwrap()
        .with_overrides([("services/pest-control.toml", PEST_CONTROL)])
        .unwrap();
    let (everything, removed) = catalog.changes_since(&[]);
    assert_eq!(everything.len(), 7);
    assert!(removed.is_empty());

    let mut held: Vec<_> = catalog.versions().into_iter().collect();
    assert_eq!(catalog.changes_since(&held), (Vec::new(), Vec::new()));

    // The phone holds an older pest-control and a service since removed.
    let older = PEST_CONTROL.replace("Pest control", "Pests");
    for (service, version) in &mut held {
        if service.as_str() == "pest-control" {
            *version = DefinitionVersion::of(&older);
        }
    }
    held.push(("graffiti".parse().unwrap(), DefinitionVersion::of("gone")));
    let (changed, removed) = catalog.changes_since(&held);
    assert_eq!(changed, [pest_control(PEST_CONTROL)]);
    assert_eq!(removed, ["graffiti".parse().unwrap()]);
}

#[test]
fn definitions_received_replace_the_shipped_ones_and_an_unreadable_one_is_named() {
    let shipped = ServiceCatalog::builtin().unwrap();
    let renamed = PEST_CONTROL.replace("Pest control", "Pests and vermin");
    let catalog = shipped.clone().with_received(&[pest_control(&renamed)]);
    assert_eq!(
        catalog.get(&"pest-control".parse().unwrap()).unwrap().name,
        "Pests and vermin"
    );
    assert_eq!(catalog.len(), 7);

    // A definition from a later Doorstep, with a rule this build lacks.
    let newer = format!("format = 2\n{PEST_CONTROL}\n[sensors]\nthermal = true\n");
    let catalog = catalog.with_received(&[pest_control(&newer)]);
    assert!(catalog.get(&"pest-control".parse().unwrap()).is_none());
    let why = catalog
        .unreadable(&"pest-control".parse().unwrap())
        .unwrap();
    assert!(why.contains("format = 2"), "{why}");
    assert!(why.contains("update"), "{why}");
    // Its file is not handed on as if it were readable.
    assert!(
        catalog
            .files()
            .all(|f| f.service.as_str() != "pest-control")
    );

    // A file naming another service than it is sent as is refused too.
    let misnamed = DefinitionFile {
        service: "housing-repair".parse().unwrap(),
        text: PEST_CONTROL.into(),
    };
    let catalog = shipped.with_received(&[misnamed]);
    assert!(catalog.get(&"housing-repair".parse().unwrap()).is_none());
    assert!(
        catalog
            .unreadable(&"housing-repair".parse().unwrap())
            .is_some()
    );
}

/// Each case appends to the minimal file (whose 25 lines and a blank one come
/// first, so appended text starts on line 27); the error must name the line
/// where the mistake is.
#[rstest]
#[case::not_toml("roles = [\"operative\"\n", 27, "unclosed array")]
#[case::unknown_target_state(
    "[[transitions]]\nid = \"close\"\nlabel = \"Close\"\nfrom = [\"treated\"]\nto = \"closed\"\nroles = [\"dispatcher\"]\n",
    31,
    "unknown state \"closed\""
)]
#[case::unknown_role(
    "[[transitions]]\nid = \"close\"\nlabel = \"Close\"\nfrom = [\"treated\"]\nto = \"reported\"\nroles = [\"janitor\"]\n",
    32,
    "one of operative, crew, dispatcher, resident, system"
)]
#[case::duplicate_state(
    "[[states]]\nid = \"treated\"\nlabel = \"Done\"\n",
    28,
    "state \"treated\" is defined twice"
)]
#[case::misspelt_field("[[states]]\nid = \"closed\"\nlable = \"Closed\"\n", 29, "lable")]
#[case::unknown_photo_kind(
    "[[transitions]]\nid = \"recheck\"\nlabel = \"Recheck\"\nfrom = [\"treated\"]\nto = \"reported\"\nroles = [\"operative\"]\nevidence = { photos = [\"before\"] }\n",
    33,
    "unknown photo kind \"before\""
)]
#[case::nobody_may_transition(
    "[[transitions]]\nid = \"recheck\"\nlabel = \"Recheck\"\nfrom = [\"treated\"]\nto = \"reported\"\nroles = []\n",
    32,
    "roles is empty"
)]
#[case::unknown_placeholder(
    "[[notifications]]\nevent = \"treat\"\nsms = \"Hello ((nmae))\"\n",
    29,
    "unknown placeholder ((nmae))"
)]
#[case::notification_for_no_event(
    "[[notifications]]\nevent = \"explode\"\nsms = \"Boom\"\n",
    28,
    "unknown event \"explode\""
)]
#[case::email_without_body(
    "[[notifications]]\nevent = \"treat\"\nemail_subject = \"Done\"\n",
    29,
    "both email_subject and email_body"
)]
#[case::bad_quiet_hours(
    "[quiet_hours]\nsms_from = \"8pm\"\nsms_until = \"08:00\"\n",
    28,
    "HH:MM"
)]
#[case::checklist_evidence_without_checklist(
    "[[actions]]\nid = \"inspect\"\nlabel = \"Inspect\"\nroles = [\"operative\"]\nwhen = [\"reported\"]\nevidence = { checklist = true }\n",
    32,
    "no [[checklist]] items"
)]
#[case::outcomes_on_a_job_service(
    "[[outcomes]]\nid = \"done\"\nlabel = \"Done\"\n",
    27,
    "only round services"
)]
fn a_malformed_definition_names_file_line_and_problem(
    #[case] appended: &str,
    #[case] line: usize,
    #[case] problem: &str,
) {
    let source = format!("{PEST_CONTROL}\n{appended}");
    let error = ServiceDefinition::parse("services/pest-control.toml", &source).unwrap_err();
    assert_eq!(error.file, "services/pest-control.toml");
    assert_eq!(error.line, line, "{error}");
    assert!(error.to_string().contains(problem), "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("services/pest-control.toml:{line}:")),
        "{error}"
    );
}

#[test]
fn a_definition_whose_id_differs_from_its_file_name_is_refused() {
    let error = ServiceDefinition::parse("services/rats.toml", PEST_CONTROL).unwrap_err();
    assert_eq!(error.line, 1);
    assert!(
        matches!(error.problem, DefinitionProblem::IdDoesNotMatchFile { .. }),
        "{error}"
    );
}

#[test]
fn a_round_service_without_outcomes_is_refused() {
    let source = PEST_CONTROL.replace("kind = \"job\"", "kind = \"round\"");
    let error = ServiceDefinition::parse("pest-control.toml", &source).unwrap_err();
    assert_eq!(error.line, 3);
    assert!(error.to_string().contains("needs [[outcomes]]"), "{error}");
}

#[test]
fn an_over_long_text_message_is_refused() {
    let source = format!(
        "{PEST_CONTROL}\n[[notifications]]\nevent = \"treat\"\nsms = \"{}\"\n",
        "x".repeat(919)
    );
    let error = ServiceDefinition::parse("pest-control.toml", &source).unwrap_err();
    assert!(
        matches!(error.problem, DefinitionProblem::SmsTooLong { chars: 919 }),
        "{error}"
    );
}

#[test]
fn booking_must_name_a_transition_the_system_may_make() {
    let source = PEST_CONTROL.replace(
        "initial = \"reported\"\n",
        "initial = \"reported\"\nbooking = \"treat\"\n",
    );
    let error = ServiceDefinition::parse("pest-control.toml", &source).unwrap_err();
    assert_eq!(error.line, 6);
    assert!(
        matches!(&error.problem, DefinitionProblem::BookingTransition { transition } if transition == "treat"),
        "{error}"
    );
    let allowed = source.replace(
        "roles = [\"operative\"]",
        "roles = [\"operative\", \"system\"]",
    );
    let service = ServiceDefinition::parse("pest-control.toml", &allowed).unwrap();
    assert_eq!(
        service.booking.map(|b| b.to_string()).as_deref(),
        Some("treat")
    );
}
