//! The server starts on an empty folder, seeds the demo council once, and
//! serves its health and job list.

use doorstep_tests::TestServer;

#[tokio::test]
async fn a_fresh_server_reports_healthy_with_the_demo_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();

    let (status, health) = server.get_json("/health").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["services"], 6);
    assert_eq!(
        health["documents"], 15,
        "seven jobs, their residents' contacts and one round"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_home_page_shows_where_to_start_and_no_ones_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();

    let (status, page) = server.get("/").await.unwrap();
    assert_eq!(status, 200);
    for link in ["/report", "/missed-bin", "/office/sign-in", "/app/"] {
        assert!(page.contains(&format!("href=\"{link}\"")), "{link}: {page}");
    }
    for private in ["HR-00001", "Marine Parade", "Work started", "Priya Sharma"] {
        assert!(!page.contains(private), "{private}: {page}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_job_list_api_orders_jobs_by_appointment() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();

    let (status, refused) = server.get_json("/api/jobs").await.unwrap();
    assert_eq!(status, 401, "{refused}");
    assert!(!refused.to_string().contains("HR-0000"), "{refused}");
    let (status, jobs) = server.get_json_as_staff("/api/jobs").await.unwrap();
    assert_eq!(status, 200);
    let rows: Vec<(String, String)> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["reference"].as_str().unwrap().to_owned(),
                j["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("BW-00001", "booked"),
        ("HR-00001", "in_progress"),
        ("CW-00001", "scheduled"),
        ("HR-00002", "booked"),
        ("HR-00003", "booked"),
        ("HR-00004", "reported"),
        ("SP-00001", "received"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect();
    assert_eq!(rows, expected);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn restarting_on_the_same_folder_keeps_the_data_and_does_not_seed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestServer::start(dir.path()).await.unwrap();
    first.stop().await.unwrap();

    let second = TestServer::start(dir.path()).await.unwrap();
    let (_, health) = second.get_json("/health").await.unwrap();
    assert_eq!(health["documents"], 15);
    second.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_path_is_a_plain_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (status, _) = server.get("/no-such-page").await.unwrap();
    assert_eq!(status, 404);
    server.stop().await.unwrap();
}
