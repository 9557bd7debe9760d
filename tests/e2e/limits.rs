//! What the server takes from anyone, and how much: callers checked before
//! a body is read, bodies bounded per route, rate limits per client
//! address (believing `X-Forwarded-For` only from a trusted proxy), a
//! day's photo allowance per phone, pages that no other site may frame,
//! and cookies marked `Secure` exactly when the server is reached over
//! `https://`.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};

use doorstep_server::Clock;
use doorstep_server::demo::{DEMO_DISPATCHER_EMAIL, DEMO_TENANT};
use doorstep_server::throttle::RateLimits;
use doorstep_shared::ids::JobId;
use doorstep_tests::{STAFF_PASSWORD, ServerOptions, TestDevice, TestServer, test_now};

#[tokio::test(flavor = "multi_thread")]
async fn callers_are_refused_before_their_bodies_are_read_and_bodies_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();

    // 30 MB promised, not one byte sent: the answer comes anyway.
    let answers = tokio::task::spawn_blocking({
        let address = server.address;
        move || {
            let probe = |head: &str| {
                let mut stream = TcpStream::connect(address).unwrap();
                // A guard against a hang, not a measure of speed.
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(30)))
                    .unwrap();
                write!(stream, "{head}Host: {address}\r\n\r\n").unwrap();
                let mut answer = vec![0u8; 512];
                let Ok(read) = stream.read(&mut answer) else {
                    return format!("no answer to {head:?}");
                };
                String::from_utf8_lossy(&answer[..read])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            [
                probe("POST /sync HTTP/1.1\r\nAuthorization: Bearer forged\r\nContent-Length: 30000000\r\n"),
                probe(&format!(
                    "PATCH /api/uploads/{} HTTP/1.1\r\nContent-Length: 1000000\r\nUpload-Offset: 0\r\nUpload-Length: 1000000\r\n",
                    "ab".repeat(32)
                )),
                probe("POST /office/jobs/import HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000000\r\n"),
                probe("POST /office/sign-in HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n"),
            ]
        }
    })
    .await
    .unwrap();
    assert!(answers[0].contains(" 401 "), "{}", answers[0]);
    assert!(answers[1].contains(" 401 "), "{}", answers[1]);
    assert!(answers[2].contains(" 303 "), "to sign in: {}", answers[2]);
    assert!(
        answers[3].contains(" 413 "),
        "a sign-in form is not 10 MB: {}",
        answers[3]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_forbid_framing_and_cookies_are_secure_only_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    for path in ["/", "/report", "/office/sign-in", "/health", "/missed-bin"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
    }
    let plain = server
        .sign_in(DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD)
        .await
        .unwrap();
    let cookie = plain.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!cookie.contains("Secure"), "{cookie}");
    server.stop().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        public_url: Some("https://repairs.example.gov.uk".into()),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let secure = server
        .sign_in(DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD)
        .await
        .unwrap();
    let cookie = secure.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_are_limited_per_address_and_a_proxys_header_only_from_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        rate_limits: Some(RateLimits {
            report: 2,
            tracking: 3,
            ..RateLimits::default()
        }),
        // The test's own address stands for the council's reverse proxy.
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let report = |from: Option<&'static str>, forwarded: Option<&'static str>| {
        let server = &server;
        async move {
            let client = reqwest::Client::builder()
                .local_address(from.map(|from| from.parse::<IpAddr>().unwrap()))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let mut request = client
                .post(server.url("/report"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("address=");
            if let Some(forwarded) = forwarded {
                request = request.header("x-forwarded-for", forwarded);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let retry = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().to_owned());
            (status, retry)
        }
    };
    // Through the proxy: each resident's address counts on its own.
    for _ in 0..2 {
        assert_eq!(report(None, Some("203.0.113.1")).await.0, 400);
    }
    let (status, retry) = report(None, Some("203.0.113.1")).await;
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("30"));
    assert_eq!(report(None, Some("203.0.113.2")).await.0, 400);
    // A client that is not the proxy cannot choose its address by header.
    assert_eq!(report(Some("127.0.0.2"), Some("198.51.100.1")).await.0, 400);
    assert_eq!(report(Some("127.0.0.2"), Some("198.51.100.2")).await.0, 400);
    assert_eq!(report(Some("127.0.0.2"), Some("198.51.100.3")).await.0, 429);
    // A minute later the allowance is back.
    server.clock.set(test_now().plus_minutes(1));
    assert_eq!(report(None, Some("203.0.113.1")).await.0, 400);

    // Tracking pages: guessing links is slowed down too.
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let guess = client
            .get(server.url(&format!("/track/{}", "B".repeat(43))))
            .send()
            .await
            .unwrap();
        statuses.push(guess.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 429]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_sends_a_days_allowance_of_photos_and_the_rest_the_next_day() {
    use doorstep_tests::StopAt;

    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        rate_limits: Some(RateLimits {
            upload_bytes_per_day: 10_000,
            ..RateLimits::default()
        }),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&server, test_now()).await.unwrap();
    let photo = crate::residents::photo_and_request(
        &mut phone,
        JobId::from_u128(0xd00_0002),
        "before",
        7,
        None,
        test_now(),
    );
    phone.sync(&server, test_now()).await.unwrap();
    let run = phone
        .upload_until(&server.url(""), test_now(), StopAt::FirstFailure)
        .await
        .unwrap();
    assert_eq!(run.failures, 1, "refused once the allowance is used");
    let renditions = [photo.display.unwrap(), photo.thumbnail.unwrap()];
    let stored_now = |server: &TestServer| {
        let state = server.state.clone();
        async move {
            state
                .with_store(move |store| {
                    renditions
                        .into_iter()
                        .map(|hash| store.stored_blob(hash).map(|blob| blob.is_some()))
                        .collect::<Result<Vec<bool>, _>>()
                })
                .await
                .unwrap()
        }
    };
    assert!(
        stored_now(&server).await.contains(&false),
        "not all of it went today"
    );

    server.clock.set(test_now().plus_minutes(24 * 60));
    let now = server.clock.now();
    phone.uploads.retry_now();
    phone.upload(&server.url(""), now).await.unwrap();
    assert_eq!(
        stored_now(&server).await,
        [true, true],
        "the next day the rest goes"
    );
}
