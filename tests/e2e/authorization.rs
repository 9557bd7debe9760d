//! The authorization matrix: every route in the server's own route table,
//! called as every kind of caller, against a real server on loopback.
//! Each answer must be what the table says the caller may get (in, or
//! refused the way that kind of route refuses), and no answer may hold
//! data of a job or council the caller has no right to. The table is the
//! one that builds the router, so a new route is in this test the moment
//! it exists.

use std::collections::BTreeMap;

use doorstep_server::Clock;
use doorstep_server::demo::{DEMO_DISPATCHER_EMAIL, DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_server::intake::{NewContact, NewJob};
use doorstep_server::routes::{Caller, RouteSpec};
use doorstep_server::state::system_actor;
use doorstep_server::store::staff::StaffRole;
use doorstep_shared::contact::Channel;
use doorstep_shared::ids::{JobId, RoundId, TenantId, UserId};
use doorstep_shared::transition::Role;
use doorstep_tests::{ADMIN_TOKEN, STAFF_PASSWORD, ServerOptions, TestDevice, TestServer};

const NOTIFY_TOKEN: &str = "notify-callback-token-for-tests";
const COUNCIL_B: TenantId = TenantId::from_u128(0xb00);

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Nobody,
    OperativePhoneA,
    CrewPhoneA,
    DispatcherPhoneA,
    DispatcherA,
    AdministratorA,
    AdministratorB,
    ResidentX,
    ResidentY,
    Operator,
    Notify,
}

const EVERYONE: [Who; 11] = [
    Who::Nobody,
    Who::OperativePhoneA,
    Who::CrewPhoneA,
    Who::DispatcherPhoneA,
    Who::DispatcherA,
    Who::AdministratorA,
    Who::AdministratorB,
    Who::ResidentX,
    Who::ResidentY,
    Who::Notify,
    // Last: the operator's calls erase a contact and revoke a device.
    Who::Operator,
];

impl Who {
    /// Whether the table lets this caller in.
    fn may_call(self, caller: Caller) -> bool {
        match caller {
            Caller::Anyone => true,
            Caller::Device => matches!(
                self,
                Who::OperativePhoneA | Who::CrewPhoneA | Who::DispatcherPhoneA
            ),
            Caller::Staff => matches!(
                self,
                Who::DispatcherA | Who::AdministratorA | Who::AdministratorB
            ),
            Caller::Administrator => matches!(self, Who::AdministratorA | Who::AdministratorB),
            Caller::Resident => matches!(self, Who::ResidentX | Who::ResidentY),
            Caller::Operator => self == Who::Operator,
            Caller::Notify => self == Who::Notify,
        }
    }
}

/// What a caller brings.
#[derive(Default, Clone)]
struct Credentials {
    bearer: Option<String>,
    cookie: Option<String>,
    csrf: Option<String>,
    link: Option<String>,
}

/// Text that marks a job's or a council's data in an answer.
struct Marks {
    job_x: Vec<&'static str>,
    job_y: Vec<&'static str>,
    council_a: Vec<&'static str>,
    council_b: Vec<&'static str>,
}

impl Marks {
    /// What `who` must never be shown.
    fn forbidden(&self, who: Who) -> Vec<&'static str> {
        let a: Vec<&str> = [&self.job_x, &self.job_y, &self.council_a]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let b = self.council_b.clone();
        match who {
            Who::Nobody | Who::Notify => [a, b].concat(),
            Who::OperativePhoneA
            | Who::CrewPhoneA
            | Who::DispatcherPhoneA
            | Who::DispatcherA
            | Who::AdministratorA => b,
            Who::AdministratorB => a,
            Who::ResidentX => [self.job_y.clone(), self.council_a.clone(), b].concat(),
            Who::ResidentY => [self.job_x.clone(), self.council_a.clone(), b].concat(),
            Who::Operator => Vec::new(),
        }
    }
}

async fn make_job(server: &TestServer, tenant: TenantId, address: &str, resident: &str) -> JobId {
    let new = NewJob {
        service: "housing-repair".parse().unwrap(),
        priority: None,
        address: address.to_owned(),
        description: "Tap drips".to_owned(),
        assignee: None,
        contact: Some(NewContact {
            name: resident.to_owned(),
            phone: Some("+447700900123".parse().unwrap()),
            email: None,
            preferred: Channel::Sms,
        }),
        photos: Vec::new(),
    };
    let now = server.clock.now();
    doorstep_server::intake::create(&server.state, system_actor(), tenant, new, now)
        .await
        .unwrap()
        .job
}

/// The session's form token, read off a back-office page.
async fn form_token(server: &TestServer, cookie: &str) -> String {
    let page = reqwest::Client::new()
        .get(server.url("/office"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    crate::office::form_token(&page)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_only_the_callers_the_table_names() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        notify_callback_token: Some(NOTIFY_TOKEN.to_owned()),
        demo_pages: true,
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let table = doorstep_server::routes::table(&server.state);

    // The world: council A (the demo) with jobs X and Y, council B with
    // its own job and administrator, a dispatcher of A who is not an
    // administrator, and a spare phone of A for the routes that revoke.
    let dispatcher_a = UserId::from_u128(0xa0d);
    let admin_b = UserId::from_u128(0xb0a);
    let password_hash = doorstep_server::office::staff::hash_password(STAFF_PASSWORD).unwrap();
    let spare_code = "SPARE-CODE-0001";
    let hash = password_hash.clone();
    let expires = server.clock.now().plus_minutes(60);
    server
        .state
        .with_store(move |store| {
            store.create_user(
                dispatcher_a,
                "Dee Dispatch",
                Role::Dispatcher,
                &[DEMO_TENANT],
            )?;
            store.put_staff_account(dispatcher_a, "dee@example.org", &hash)?;
            store.grant_staff_role(dispatcher_a, DEMO_TENANT, StaffRole::Dispatcher)?;
            store.put_tenant(COUNCIL_B, "Borrowdale Council")?;
            store.create_user(admin_b, "Beatrice Boss", Role::Dispatcher, &[COUNCIL_B])?;
            store.put_staff_account(admin_b, "beatrice@example.org", &hash)?;
            store.grant_staff_role(admin_b, COUNCIL_B, StaffRole::Admin)?;
            store.create_enrolment(spare_code, DEMO_OPERATIVE, None, expires)?;
            Ok(())
        })
        .await
        .unwrap();
    let job_x = make_job(&server, DEMO_TENANT, "11 Xylophone Street", "Xavier Quill").await;
    let job_y = make_job(&server, DEMO_TENANT, "22 Yew Lane", "Yolanda Yarrow").await;
    let job_b = make_job(&server, COUNCIL_B, "33 Birch Mews", "Bertie Bramble").await;
    let now = server.clock.now();
    let link_x = doorstep_server::residents::issue(&server.state, DEMO_TENANT, job_x, now)
        .await
        .unwrap();
    let link_y = doorstep_server::residents::issue(&server.state, DEMO_TENANT, job_y, now)
        .await
        .unwrap();

    let server = &server;
    let phone = |name: &str| {
        let code = server.code_for(name);
        async move { TestDevice::enrol(server, &code, DEMO_TENANT).await.unwrap() }
    };
    let operative = phone("Priya Sharma").await;
    let crew = phone("Sam Lee").await;
    let dispatcher_phone = phone("Dan Okafor").await;
    let spare = TestDevice::enrol(server, spare_code, DEMO_TENANT)
        .await
        .unwrap();

    let mut credentials: BTreeMap<Who, Credentials> = BTreeMap::new();
    for (who, token) in [
        (Who::OperativePhoneA, &operative.token),
        (Who::CrewPhoneA, &crew.token),
        (Who::DispatcherPhoneA, &dispatcher_phone.token),
    ] {
        credentials.insert(
            who,
            Credentials {
                bearer: Some(token.clone()),
                ..Credentials::default()
            },
        );
    }
    for (who, email) in [
        (Who::DispatcherA, "dee@example.org"),
        (Who::AdministratorA, DEMO_DISPATCHER_EMAIL),
        (Who::AdministratorB, "beatrice@example.org"),
    ] {
        let cookie = server.session_for(email, STAFF_PASSWORD).await.unwrap();
        let csrf = form_token(server, &cookie).await;
        credentials.insert(
            who,
            Credentials {
                cookie: Some(cookie),
                csrf: Some(csrf),
                ..Credentials::default()
            },
        );
    }
    for (who, link) in [(Who::ResidentX, &link_x), (Who::ResidentY, &link_y)] {
        credentials.insert(
            who,
            Credentials {
                link: Some(link.clone()),
                ..Credentials::default()
            },
        );
    }
    for (who, token) in [(Who::Operator, ADMIN_TOKEN), (Who::Notify, NOTIFY_TOKEN)] {
        credentials.insert(
            who,
            Credentials {
                bearer: Some(token.to_owned()),
                ..Credentials::default()
            },
        );
    }

    let job_x_text = job_x.to_string();
    let job_b_text = job_b.to_string();
    let marks = Marks {
        job_x: vec!["11 Xylophone Street", "Xavier Quill"],
        job_y: vec!["22 Yew Lane", "Yolanda Yarrow"],
        council_a: vec!["Dee Dispatch", "Priya Sharma"],
        council_b: vec![
            "33 Birch Mews",
            "Bertie Bramble",
            "Beatrice Boss",
            "Borrowdale",
        ],
    };
    let round = RoundId::from_u128(0xd20_0001).to_string();
    let device = spare.device.to_string();
    let user = DEMO_OPERATIVE.to_string();
    let made_up_link = "A".repeat(43);

    // What the table says is itself held to the rules: only these may be
    // called by anyone; the back office is staff's, devices and people
    // are administrators', a tracking page is its resident's, the admin
    // API is the operator's, and sync and photos are devices'.
    let public = [
        "/",
        "/health",
        "/report",
        "/missed-bin",
        "/office/sign-in",
        "/office/board.js",
        "/api/enrol",
        "/app",
    ];
    for route in &table {
        let path = route.path;
        let expected = if path.starts_with("/office/devices")
            || path.starts_with("/office/people")
            || path.starts_with("/office/teams")
        {
            Some(Caller::Administrator)
        } else if path.starts_with("/office") && !public.contains(&path) {
            Some(Caller::Staff)
        } else if path.starts_with("/track/") {
            Some(Caller::Resident)
        } else if path.starts_with("/api/admin/") {
            Some(Caller::Operator)
        } else if path.starts_with("/sync")
            || path.starts_with("/api/uploads/")
            || path.starts_with("/api/blobs/")
            || path.starts_with("/api/device/")
        {
            Some(Caller::Device)
        } else if path == "/demo/outbox" || (path == "/api/jobs" && route.method == "GET") {
            Some(Caller::Staff)
        } else {
            None
        };
        if let Some(expected) = expected {
            assert_eq!(route.caller, expected, "{} {path}", route.method);
        }
        if route.caller == Caller::Anyone {
            let listed = public
                .iter()
                .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
                || path.starts_with("/assets/");
            assert!(listed, "{} {path} is open to anyone", route.method);
        }
    }

    // Signing out ends what later calls use: those routes go last.
    let mut routes: Vec<&RouteSpec> = table.iter().collect();
    routes.sort_by_key(|route| route.path.ends_with("/sign-out"));
    assert!(
        routes.len() >= 70,
        "the table lists {} routes",
        routes.len()
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut failures = Vec::new();
    let mut calls = 0;
    for who in EVERYONE {
        let own = credentials.get(&who).cloned().unwrap_or_default();
        let forbidden = marks.forbidden(who);
        for route in &routes {
            let path = route
                .path
                .replace("{job}", &job_x_text)
                .replace("{token}", own.link.as_deref().unwrap_or(&made_up_link))
                .replace("{round}", &round)
                .replace("{device}", &device)
                .replace("{user}", &user)
                .replace("{hash}", &"ab".repeat(32))
                .replace("{step}", "no-such-step")
                .replace("{*file}", "index.html");
            let mut request = client.request(route.method.clone(), server.url(&path));
            if let Some(token) = &own.bearer {
                request = request.bearer_auth(token);
            }
            if let Some(cookie) = &own.cookie {
                request = request.header("cookie", cookie);
            }
            if route.method != reqwest::Method::GET {
                let mut form = format!("council={DEMO_TENANT}");
                if let Some(csrf) = &own.csrf {
                    form.push_str(&format!("&csrf={csrf}"));
                }
                request = request
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form);
            }
            let response = request.send().await.unwrap();
            calls += 1;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            // An event stream never ends: its first bytes are not data.
            let streams = response
                .headers()
                .get("content-type")
                .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
            let body = if streams {
                String::new()
            } else {
                String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned()
            };
            let call = format!("{who:?} {} {}", route.method, route.path);

            let to_sign_in = status == 303 && location == "/office/sign-in";
            let not_admin = status == 403 && body.contains("nly an administrator");
            let no_link = status == 404 && body.contains("the link may have expired");
            // Signing out ends at the sign-in page; a resident asking for a
            // photo, a step or a calendar entry the job does not have gets
            // the same page as a made-up link (it tells a guesser nothing),
            // so those are seen through the pages that always exist.
            let signed_out = route.path.ends_with("/sign-out") && to_sign_in;
            let missing_thing =
                route.path.matches('{').count() > 1 || route.path.ends_with("appointment.ics");
            let refused = status == 401
                || (to_sign_in && !signed_out)
                || not_admin
                || (no_link && !missing_thing);
            if who.may_call(route.caller) {
                if refused {
                    failures.push(format!(
                        "{call}: let in by the table, refused with {status}"
                    ));
                }
            } else {
                let refused_as_stated = match route.caller {
                    Caller::Anyone => true,
                    Caller::Device | Caller::Operator | Caller::Notify => status == 401,
                    Caller::Staff if route.page => to_sign_in,
                    Caller::Staff => status == 401,
                    Caller::Administrator => to_sign_in || (not_admin && who == Who::DispatcherA),
                    Caller::Resident => no_link,
                };
                if !refused_as_stated {
                    failures.push(format!("{call}: not the caller's route, answered {status}"));
                }
            }
            for mark in &forbidden {
                if body.contains(mark) {
                    failures.push(format!("{call}: the answer shows {mark:?}"));
                }
            }
            if who == Who::AdministratorB && body.contains(&job_x_text) && status < 300 {
                failures.push(format!("{call}: council B is shown job X's id"));
            }
            if matches!(who, Who::AdministratorA | Who::DispatcherA) && body.contains(&job_b_text) {
                failures.push(format!("{call}: council A is shown council B's job"));
            }
        }
    }
    println!(
        "authorization matrix: {} routes × {} callers = {calls} calls",
        routes.len(),
        EVERYONE.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
