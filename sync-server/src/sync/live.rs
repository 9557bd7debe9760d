//! `GET /sync/live`: a WebSocket on which a device sends sync requests and
//! gets replies, as with `POST /sync`, and is told the moment another
//! device's push changes its council's documents, so it syncs at once.
//! Browsers cannot set headers on a WebSocket, so the token may also come as
//! `?token=`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use doorstep_shared::sync::store::DeviceIdentity;
use doorstep_shared::sync::wire::{MAX_MESSAGE_BYTES, changed_notice};
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::sync::DeviceAuth;
use crate::sync::exchange::answer;

pub(super) fn routes() -> Vec<Route> {
    vec![routes::get("/sync/live", Caller::Device, upgrade)]
}

async fn upgrade(
    State(state): State<AppState>,
    DeviceAuth { who, token }: DeviceAuth,
    socket: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    Ok(socket
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| live(state, who, token, socket)))
}

async fn live(state: AppState, who: DeviceIdentity, token: String, mut socket: WebSocket) {
    let mut changes = state.subscribe();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let body = match incoming {
                    Some(Ok(Message::Binary(body))) => body,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                let outgoing = match answer(&state, token.clone(), Bytes::from(body.to_vec())).await {
                    Ok((_, reply)) => Message::Binary(reply.into()),
                    Err(error @ ApiError::Unauthorized(_)) => {
                        let _ = socket.send(Message::Text(error.to_string().into())).await;
                        break;
                    }
                    Err(error) => Message::Text(error.to_string().into()),
                };
                if socket.send(outgoing).await.is_err() {
                    break;
                }
            }
            changed = changes.recv() => {
                let tenants: Vec<_> = match changed {
                    Ok(changed) if changed.by != Some(who.device) && who.tenants.contains(&changed.tenant) => {
                        vec![changed.tenant]
                    }
                    Ok(_) => continue,
                    // Missed some notices: say every council may have changed.
                    Err(RecvError::Lagged(_)) => who.tenants.iter().copied().collect(),
                    Err(RecvError::Closed) => break,
                };
                for tenant in tenants {
                    if socket.send(Message::Binary(changed_notice(tenant).into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
