//! A local HTTP server that records every request (method, path, headers, body) and
//! answers each with the next status of a list (the last one repeated): the Slack,
//! PagerDuty and webhook endpoints of the end-to-end tests. Stopped on drop. And
//! [`SilentServer`], which accepts connections and never answers.

use std::sync::{Arc, Mutex};

use tiny_http::{Response, Server};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub method: String,
    pub path: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::from_str(&self.body)?)
    }
}

pub struct CaptureServer {
    server: Arc<Server>,
    pub port: u16,
    requests: Arc<Mutex<Vec<Captured>>>,
}

impl std::fmt::Debug for CaptureServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl CaptureServer {
    /// Answers every request 200 `ok`.
    pub fn start() -> anyhow::Result<Self> {
        Self::with_statuses(vec![200])
    }

    pub fn with_statuses(statuses: Vec<u16>) -> anyhow::Result<Self> {
        let server = Server::http("127.0.0.1:0")
            .map_err(|e| anyhow::anyhow!("cannot start the capture server: {e}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("capture server is not on an IP address"))?
            .port();
        let server = Arc::new(server);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (srv, log) = (Arc::clone(&server), Arc::clone(&requests));
        std::thread::spawn(move || {
            for (i, mut req) in srv.incoming_requests().enumerate() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let captured = Captured {
                    method: req.method().to_string(),
                    path: req.url().to_owned(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.to_string().to_ascii_lowercase(),
                                h.value.to_string(),
                            )
                        })
                        .collect(),
                    body,
                };
                if let Ok(mut l) = log.lock() {
                    l.push(captured);
                }
                let status = statuses.get(i).or(statuses.last()).copied().unwrap_or(200);
                let answer = if status < 300 {
                    "ok"
                } else {
                    "upstream exploded"
                };
                let _ = req.respond(Response::from_string(answer).with_status_code(status));
            }
        });
        Ok(Self {
            server,
            port,
            requests,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The requests to one path.
    pub fn to(&self, path: &str) -> Vec<Captured> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

/// An endpoint that accepts connections and never answers (it reads nothing and writes
/// nothing): what a hung sink, or a hung AWS endpoint, looks like to a client. Stopped on
/// drop.
#[derive(Debug)]
pub struct SilentServer {
    pub port: u16,
    /// The connections it accepted, kept open.
    accepted: Arc<Mutex<Vec<std::net::TcpStream>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl SilentServer {
    pub fn start() -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (held, stopped) = (Arc::clone(&accepted), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Ok(mut h) = held.lock() {
                            h.push(stream);
                        }
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        Ok(Self {
            port,
            accepted,
            stop,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many connections it accepted.
    pub fn connections(&self) -> usize {
        self.accepted.lock().map(|a| a.len()).unwrap_or_default()
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}
