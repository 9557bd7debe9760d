//! Live sync over a WebSocket: a push by one device reaches another that is
//! connected, without it asking, and a revoked device is cut off.

use std::time::Duration;

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::{DocumentId, SyncReply, decode_changed_notice};
use doorstep_tests::{ADMIN_TOKEN, TestDevice, TestServer, test_now};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bound on waiting for the server, so a broken build fails instead of
/// hanging; never what a passing test waits for.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

async fn connect(server: &TestServer, device: &TestDevice) -> Socket {
    let url = format!("ws://{}/sync/live?token={}", server.address, device.token);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn next_binary(socket: &mut Socket) -> Vec<u8> {
    loop {
        let message = tokio::time::timeout(GIVE_UP_AFTER, socket.next())
            .await
            .expect("the server sent nothing")
            .expect("the connection closed")
            .unwrap();
        match message {
            Message::Binary(bytes) => return bytes.to_vec(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// One sync round trip over the socket, applied to the device.
async fn sync_over(socket: &mut Socket, device: &mut TestDevice, now: Timestamp) {
    let request = device.sync.poll(now).expect("the device wants to sync");
    socket.send(Message::Binary(request.into())).await.unwrap();
    let reply = next_binary(socket).await;
    SyncReply::decode(&reply).expect("a sync reply");
    let effects = device.sync.receive(now, &reply);
    doorstep_shared::sync::simulation::apply_effects(&mut device.docs, &device.actor, effects);
}

#[tokio::test]
async fn a_push_from_one_device_reaches_a_connected_one_without_it_asking() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut priya = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    let mut dan = TestDevice::enrol(&server, &server.code_for("Dan Okafor"), DEMO_TENANT)
        .await
        .unwrap();
    let mut priya_socket = connect(&server, &priya).await;
    let mut dan_socket = connect(&server, &dan).await;
    sync_over(&mut priya_socket, &mut priya, test_now()).await;
    sync_over(&mut dan_socket, &mut dan, test_now()).await;
    assert_eq!(
        dan.docs.len(),
        15,
        "the dispatcher sees every job, its contact and the round"
    );

    let job = DocumentId::Job(JobId::from_u128(0xd00_0003));
    priya
        .edit(DEMO_TENANT, job, |doc: &mut AutoCommit| {
            let me = Actor {
                user: DEMO_OPERATIVE,
                role: Role::Operative,
                device: None,
            };
            JobEditor::new(doc, me)
                .unwrap()
                .splice_notes(0, 0, "Parked round the back. ")
                .unwrap();
        })
        .unwrap();
    sync_over(&mut priya_socket, &mut priya, test_now().plus_minutes(1)).await;

    // Dan's phone is told, unasked, and syncs.
    let notice = next_binary(&mut dan_socket).await;
    assert_eq!(decode_changed_notice(&notice), Ok(DEMO_TENANT));
    dan.sync.changed();
    sync_over(&mut dan_socket, &mut dan, test_now().plus_minutes(1)).await;
    let notes = Job::load(&dan.docs[&job])
        .unwrap()
        .notes
        .as_str()
        .to_owned();
    assert!(notes.starts_with("Parked round the back."), "{notes}");
}

#[tokio::test]
async fn a_live_connection_needs_a_valid_token_and_ends_when_the_device_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/sync/live?token=nope", server.address))
            .await;
    assert!(refused.is_err(), "no upgrade without a valid token");

    let mut priya = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    let mut socket = connect(&server, &priya).await;
    sync_over(&mut socket, &mut priya, test_now()).await;
    let path = format!("/api/admin/devices/{}/revoke", priya.device);
    let (status, _) = server
        .post_json(&path, &serde_json::json!({}), Some(ADMIN_TOKEN))
        .await
        .unwrap();
    assert_eq!(status, 204);

    let request = priya.sync.poll(test_now().plus_minutes(1)).unwrap();
    socket.send(Message::Binary(request.into())).await.unwrap();
    let answer = tokio::time::timeout(GIVE_UP_AFTER, socket.next())
        .await
        .unwrap();
    match answer {
        Some(Ok(Message::Text(text))) => assert!(text.contains("revoked"), "{text}"),
        other => panic!("expected the refusal, got {other:?}"),
    }
}
