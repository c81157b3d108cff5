//! The HTTP client the Slack, PagerDuty and webhook sinks share: rustls (no OpenSSL),
//! timeouts, no redirects (a signed body or a secret URL is never sent on elsewhere), and
//! retries with jittered exponential backoff (`backon`) on 429, 5xx, connect errors and
//! timeouts.
//!
//! At most [`MAX_ANSWER`] bytes of an answer are read: an endpoint answering with an
//! endless body must not fill the function's memory.
//!
//! Errors name the status, the host and a short excerpt of the answer, never the URL's
//! path or query (a Slack webhook URL *is* a secret) and never a secret value. An error's
//! text starts `HTTP <status> from ` when the endpoint answered ([`status_of`] reads it
//! back, for the sinks whose errors travel as text).

use std::net::IpAddr;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

/// How long one attempt may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an answer's body an error quotes.
const EXCERPT_CHARS: usize = 200;
/// The most of an answer's body that is read.
pub const MAX_ANSWER: usize = 64 * 1024;

/// The status an HTTP sink's error names, if the endpoint answered (the text of
/// [`HttpError::Status`]).
pub fn status_of(error: &str) -> Option<u16> {
    let rest = error.strip_prefix("HTTP ")?;
    let (status, rest) = rest.split_once(' ')?;
    if !rest.starts_with("from ") {
        return None;
    }
    status.parse().ok()
}

/// At most [`MAX_ANSWER`] bytes of the body; what arrived before an error or a timeout.
async fn read_capped(mut resp: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(MAX_ANSWER - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// Accepts `https://` URLs, and `http://` only to a loopback host (local test servers).
pub fn check_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("not a valid URL ({e})"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => {
            return Err("plain http is allowed only to a loopback host; use https".to_owned());
        }
        other => return Err(format!("scheme `{other}` is not https")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// One failed attempt; the last one becomes the error.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("HTTP {status} from {host} after {attempts} attempt(s): {excerpt}")]
    Status {
        status: u16,
        host: String,
        excerpt: String,
        attempts: usize,
    },
    #[error("request to {host} failed after {attempts} attempt(s): {message}")]
    Transport {
        host: String,
        message: String,
        attempts: usize,
    },
    #[error("{0}")]
    Invalid(String),
}

enum Attempt {
    Status(u16, String),
    Transport { message: String, retryable: bool },
}

impl Attempt {
    fn retryable(&self) -> bool {
        match self {
            Attempt::Status(s, _) => *s == 429 || (500..600).contains(s),
            Attempt::Transport { retryable, .. } => *retryable,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    backoff: ExponentialBuilder,
}

impl HttpSender {
    /// Two retries after the first attempt, 250 ms then ~500 ms (jittered), so one sink's
    /// worst case stays well inside a Lambda timeout.
    pub fn new() -> Result<Self, String> {
        Self::with_backoff(Duration::from_millis(250), Duration::from_secs(2), 2)
    }

    pub fn with_backoff(min: Duration, max: Duration, retries: usize) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_max_times(retries)
            .with_jitter();
        Ok(Self { client, backoff })
    }

    /// POSTs a JSON body, retrying as the module says. `redact` lists secret values that
    /// must never appear in an error (an answer that echoes one has it masked).
    pub async fn post_json(
        &self,
        url: &Url,
        body: Vec<u8>,
        extra_headers: &[(&'static str, String)],
        redact: &[&str],
    ) -> Result<Answer, HttpError> {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => "(no host)".to_owned(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("patrol/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in extra_headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| HttpError::Invalid(format!("header {name} is not valid")))?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("header name {name} is not valid")))?;
            headers.insert(name, value);
        }
        let mut attempts = 0usize;
        let attempt = || {
            attempts += 1;
            let req = self
                .client
                .post(url.clone())
                .headers(headers.clone())
                .body(body.clone());
            async move {
                let resp = req.send().await.map_err(|e| Attempt::Transport {
                    retryable: e.is_connect() || e.is_timeout() || e.is_request(),
                    // The URL may be a secret (Slack): never in a message.
                    message: error_chain(&e.without_url()),
                })?;
                let status = resp.status().as_u16();
                let text = read_capped(resp).await;
                if (200..300).contains(&status) {
                    Ok(Answer { status, body: text })
                } else {
                    Err(Attempt::Status(status, text))
                }
            }
        };
        let result = attempt
            .retry(self.backoff)
            .sleep(tokio::time::sleep)
            .when(Attempt::retryable)
            .notify(|e, after| {
                let what = match e {
                    Attempt::Status(s, _) => format!("HTTP {s}"),
                    Attempt::Transport { message, .. } => message.clone(),
                };
                tracing::warn!(host = %host, error = %what, retry_in = ?after, "HTTP delivery failed; retrying");
            })
            .await;
        result.map_err(|e| match e {
            Attempt::Status(status, text) => HttpError::Status {
                status,
                host: host.clone(),
                excerpt: excerpt(&text, redact),
                attempts,
            },
            Attempt::Transport { message, .. } => HttpError::Transport {
                host: host.clone(),
                message: mask(&message, redact),
                attempts,
            },
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn mask(text: &str, redact: &[&str]) -> String {
    redact
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |t, s| t.replace(s, "***"))
}

/// The start of an answer's body, on one line, secrets masked.
fn excerpt(body: &str, redact: &[&str]) -> String {
    let one_line: String = mask(body, redact)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.is_empty() {
        return "(empty body)".to_owned();
    }
    if trimmed.chars().count() <= EXCERPT_CHARS {
        return trimmed.to_owned();
    }
    let mut out: String = trimmed.chars().take(EXCERPT_CHARS).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A local server answering each request with the next status of `statuses` (the
    /// last one repeated), recording the bodies it got.
    fn server(statuses: Vec<u16>, body: &'static str) -> (Url, Arc<Mutex<Vec<String>>>) {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (i, mut req) in server.incoming_requests().enumerate() {
                let mut b = String::new();
                let _ = req.as_reader().read_to_string(&mut b);
                log.lock().expect("lock").push(b);
                let status = statuses.get(i).or(statuses.last()).copied().unwrap_or(200);
                let _ =
                    req.respond(tiny_http::Response::from_string(body).with_status_code(status));
            }
        });
        let url = check_url(&format!("http://127.0.0.1:{port}/hook")).expect("loopback");
        (url, seen)
    }

    fn fast() -> HttpSender {
        HttpSender::with_backoff(Duration::from_millis(10), Duration::from_millis(20), 2)
            .expect("client")
    }

    #[tokio::test]
    async fn an_endless_answer_is_read_up_to_its_cap_only() {
        // An endpoint that answers 200 and then streams forever (chunked, no length).
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().expect("ip").port();
        std::thread::spawn(move || {
            for req in server.incoming_requests() {
                let endless = tiny_http::Response::new(
                    tiny_http::StatusCode(200),
                    vec![],
                    std::io::repeat(b'x'),
                    None,
                    None,
                );
                let _ = req.respond(endless);
            }
        });
        let url = check_url(&format!("http://127.0.0.1:{port}/hook")).expect("loopback");
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            fast().post_json(&url, b"{}".to_vec(), &[], &[]),
        )
        .await
        .expect("the read stops at the cap instead of following the stream")
        .expect("a 200 is delivered");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.len(), MAX_ANSWER);
    }

    #[tokio::test]
    async fn retries_a_500_then_succeeds() {
        let (url, seen) = server(vec![500, 200], "ok");
        let answer = fast()
            .post_json(&url, b"{\"a\":1}".to_vec(), &[], &[])
            .await
            .expect("second attempt succeeds");
        assert_eq!(
            answer,
            Answer {
                status: 200,
                body: "ok".into()
            }
        );
        assert_eq!(*seen.lock().expect("lock"), vec!["{\"a\":1}", "{\"a\":1}"]);
    }

    #[tokio::test]
    async fn retries_429_and_gives_up_with_status_and_excerpt() {
        let (url, seen) = server(vec![429], "slow down, key s3cr3t rejected");
        let err = fast()
            .post_json(&url, b"{}".to_vec(), &[], &["s3cr3t"])
            .await
            .expect_err("always 429");
        assert_eq!(seen.lock().expect("lock").len(), 3);
        let msg = err.to_string();
        assert!(msg.starts_with("HTTP 429 from 127.0.0.1:"), "{msg}");
        assert!(
            msg.contains("after 3 attempt(s): slow down, key *** rejected"),
            "{msg}"
        );
        assert!(!msg.contains("/hook"), "no URL path in errors: {msg}");
    }

    #[tokio::test]
    async fn does_not_retry_a_client_error() {
        let (url, seen) = server(vec![400, 200], "invalid_payload");
        let err = fast()
            .post_json(&url, b"{}".to_vec(), &[], &[])
            .await
            .expect_err("400 is final");
        assert_eq!(seen.lock().expect("lock").len(), 1);
        assert!(err.to_string().contains("HTTP 400"), "{err}");
    }

    #[tokio::test]
    async fn retries_connection_refused_and_names_no_path() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let url =
            check_url(&format!("http://127.0.0.1:{port}/T000/B000/secretpath")).expect("loopback");
        let err = fast()
            .post_json(&url, b"{}".to_vec(), &[], &[])
            .await
            .expect_err("nothing listens");
        let msg = err.to_string();
        assert!(msg.contains("after 3 attempt(s)"), "{msg}");
        assert!(!msg.contains("secretpath"), "{msg}");
    }

    #[tokio::test]
    async fn reads_at_most_64_kib_of_an_answer() {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().expect("ip").port();
        std::thread::spawn(move || {
            for req in server.incoming_requests() {
                // 8 MiB, chunked (no length given).
                let body = std::io::Read::take(std::io::repeat(b'x'), 8 << 20);
                let resp = tiny_http::Response::new(200.into(), vec![], body, None, None);
                let _ = req.respond(resp);
            }
        });
        let url = check_url(&format!("http://127.0.0.1:{port}/hook")).expect("loopback");
        let answer = fast()
            .post_json(&url, b"{}".to_vec(), &[], &[])
            .await
            .expect("200");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.len(), MAX_ANSWER);
    }

    #[tokio::test]
    async fn errors_name_the_status_for_status_of() {
        let (url, _) = server(vec![403], "invalid_token");
        let err = fast()
            .post_json(&url, b"{}".to_vec(), &[], &[])
            .await
            .expect_err("403");
        assert_eq!(status_of(&err.to_string()), Some(403));
        assert_eq!(
            status_of("request to h failed after 3 attempt(s): HTTP 403 from x"),
            None
        );
        assert_eq!(status_of("HTTP 4x3 from h"), None);
    }

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        assert!(check_url("https://hooks.slack.com/services/x").is_ok());
        assert!(check_url("http://127.0.0.5:1/x").is_ok());
        assert!(check_url("http://localhost:1/x").is_ok());
        assert!(check_url("http://[::1]:1/x").is_ok());
        assert!(check_url("http://hooks.slack.com/x").is_err());
        assert!(check_url("http://10.0.0.1/x").is_err());
        assert!(check_url("ftp://example.com/x").is_err());
        assert!(check_url("hooks.slack.com/x").is_err());
    }
}
