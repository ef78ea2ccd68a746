//! An HTTP/1.1 proxy in front of the emulator, for tests that need to see or
//! shape the traffic: every request is shown to a [`Policy`] that forwards it
//! (possibly after waiting), fails it with a Google-style error, or forwards it
//! and drops the answer (a lost response). It counts requests by API call.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

impl Request {
    /// The API call: `query`, `getQueryResults`, `insertAll` or `other`.
    pub fn call(&self) -> &'static str {
        let path = self.path.split('?').next().unwrap_or("");
        if self.method == "POST" && path.ends_with("/queries") {
            "query"
        } else if self.method == "GET" && path.contains("/queries/") {
            "getQueryResults"
        } else if path.ends_with("/insertAll") {
            "insertAll"
        } else {
            "other"
        }
    }

    /// The SQL text of a jobs.query request.
    pub fn sql(&self) -> Option<String> {
        if self.call() != "query" {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        body.get("query")?.as_str().map(str::to_string)
    }
}

/// What to do with a request.
pub enum Verdict {
    Forward,
    /// Answer with this HTTP status and a Google error body; nothing is forwarded.
    Fail {
        status: u16,
        reason: &'static str,
        message: String,
    },
    /// Forward it, then close the connection without answering.
    DropAnswer,
}

#[async_trait]
pub trait Policy: Send + Sync + 'static {
    /// Decides (and may wait) before the request goes upstream.
    async fn admit(&self, request: &Request) -> Verdict;
    /// Called once a forwarded request's upstream answer is in (or it failed
    /// upstream); not for requests the policy failed itself.
    fn finished(&self, _request: &Request, _status: u16) {}
}

/// Forwards everything.
pub struct PassThrough;

#[async_trait]
impl Policy for PassThrough {
    async fn admit(&self, _request: &Request) -> Verdict {
        Verdict::Forward
    }
}

/// A running proxy; it stops with the test's runtime.
pub struct Proxy {
    pub url: String,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl Proxy {
    pub async fn start(upstream: &str, policy: Arc<dyn Policy>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let upstream = upstream.trim_end_matches('/').to_string();
        let client = reqwest::Client::new();
        let shared = Arc::clone(&counts);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (policy, client, upstream, counts) = (
                    Arc::clone(&policy),
                    client.clone(),
                    upstream.clone(),
                    Arc::clone(&shared),
                );
                tokio::spawn(serve(socket, policy, client, upstream, counts));
            }
        });
        Proxy { url, counts }
    }

    /// Requests seen so far, by API call.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().unwrap().clone()
    }

    pub fn total(&self) -> u64 {
        self.counts().values().sum()
    }
}

async fn serve(
    mut socket: TcpStream,
    policy: Arc<dyn Policy>,
    client: reqwest::Client,
    upstream: String,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
) {
    // Keep-alive: one request after another on the same connection.
    while let Ok(Some(request)) = read_request(&mut socket).await {
        *counts.lock().unwrap().entry(request.call()).or_insert(0) += 1;
        let (status, content_type, body) = match policy.admit(&request).await {
            Verdict::Fail {
                status,
                reason,
                message,
            } => {
                let body = serde_json::json!({"error": {
                    "code": status, "message": message, "status": "FAILED",
                    "errors": [{"reason": reason, "message": message, "domain": "global"}],
                }});
                (
                    status,
                    "application/json".to_string(),
                    body.to_string().into_bytes(),
                )
            }
            verdict => {
                let answer = forward(&client, &upstream, &request).await;
                let status = answer.as_ref().map(|a| a.0).unwrap_or(502);
                policy.finished(&request, status);
                if matches!(verdict, Verdict::DropAnswer) {
                    return;
                }
                match answer {
                    Some(a) => a,
                    None => (502, "text/plain".into(), b"upstream failed".to_vec()),
                }
            }
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if socket.write_all(head.as_bytes()).await.is_err()
            || socket.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    request: &Request,
) -> Option<(u16, String, Vec<u8>)> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).ok()?;
    let response = client
        .request(method, format!("{upstream}{}", request.path))
        .header("content-type", "application/json")
        .header("authorization", "Bearer emulator-no-auth")
        .body(request.body.clone())
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = response.bytes().await.ok()?.to_vec();
    Some((status, content_type, body))
}

/// Reads one request (head and Content-Length body); `None` at end of stream.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Some(Request { method, path, body }))
}
