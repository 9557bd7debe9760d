//! How the core reaches the server: one request, one response. Natively a
//! blocking HTTP client on the core's own thread; in the browser, `fetch`
//! from the Web Worker ([5/8]).

/// An HTTP method the core uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PATCH.
    Patch,
}

/// A request to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The device's bearer token, if it has one yet.
    pub token: Option<String>,
    /// Other headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// The request got no answer: no signal, a dropped connection, a timeout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Sends requests to the server.
pub trait Transport {
    /// Sends one request and waits for its answer.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// HTTP over a blocking client, for native builds.
#[cfg(feature = "native")]
pub struct NativeTransport {
    client: reqwest::blocking::Client,
}

#[cfg(feature = "native")]
impl NativeTransport {
    /// A client that gives up on a request after `timeout`.
    pub fn new(timeout: std::time::Duration) -> Result<Self, TransportError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| TransportError(error.to_string()))?;
        Ok(Self { client })
    }
}

#[cfg(feature = "native")]
impl Transport for NativeTransport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut builder = match request.method {
            Method::Get => self.client.get(&request.url),
            Method::Post => self.client.post(&request.url),
            Method::Patch => self.client.patch(&request.url),
        };
        if let Some(token) = &request.token {
            builder = builder.bearer_auth(token);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(request.body)
            .send()
            .map_err(|error| TransportError(error.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .map_err(|error| TransportError(error.to_string()))?
            .to_vec();
        Ok(HttpResponse { status, body })
    }
}
