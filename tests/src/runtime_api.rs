//! A local AWS Lambda Runtime API (the 2018-06-01 interface the real service exposes to a
//! `provided.al2023` bootstrap): serves one event to a real function binary, records the
//! function's response or error, then holds the next `/next` poll as Lambda does between
//! invocations. The process is killed on drop; what it printed until then (its log, and the
//! embedded-metric-format lines CloudWatch would turn into metrics) is kept.
//!
//! [`RuntimeApi::run_with_deadline`] plays Lambda's timeout too: the invocation's deadline
//! (`Lambda-Runtime-Deadline-Ms`) is that far away, and a function that has not answered
//! by then is killed ([`Outcome::TimedOut`]), with whatever it had not yet recorded.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use tiny_http::{Header, Response, Server};

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// What the function did with the invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Response(String),
    Error {
        error_type: String,
        body: String,
    },
    InitError {
        error_type: String,
        body: String,
    },
    /// The process ended without answering.
    Exited {
        status: String,
        stderr: String,
    },
    /// No answer by the invocation's deadline: killed, as Lambda does.
    TimedOut,
}

/// One invocation: its outcome, and what the process printed until it answered (or exited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub outcome: Outcome,
    pub stdout: String,
    pub stderr: String,
    /// From the invocation being served to the answer.
    pub elapsed: Duration,
}

/// Lambda's invocation deadline, as the tests set it.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct RuntimeApi {
    child: Child,
}

/// Reads a pipe to its end on a thread, so a chatty process never blocks on a full pipe.
fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl RuntimeApi {
    /// Runs `binary` with `env` for one invocation of `event` and returns its outcome.
    pub fn invoke_once(
        binary: &Path,
        env: &[(&str, String)],
        event: &str,
        timeout: Duration,
    ) -> anyhow::Result<Outcome> {
        Ok(Self::run_once(binary, env, event, timeout)?.outcome)
    }

    /// Like [`RuntimeApi::invoke_once`], with what the process printed.
    pub fn run_once(
        binary: &Path,
        env: &[(&str, String)],
        event: &str,
        timeout: Duration,
    ) -> anyhow::Result<Run> {
        Self::run(binary, env, event, DEFAULT_DEADLINE, Err(timeout))
    }

    /// Runs `binary` for one invocation of `event` whose deadline is `deadline` away, and
    /// kills it then if it has not answered ([`Outcome::TimedOut`]).
    pub fn run_with_deadline(
        binary: &Path,
        env: &[(&str, String)],
        event: &str,
        deadline: Duration,
    ) -> anyhow::Result<Run> {
        Self::run(binary, env, event, deadline, Ok(()))
    }

    /// `limit`: `Ok` to kill the function at the deadline, `Err(timeout)` to fail the
    /// test when it has not answered after `timeout`.
    fn run(
        binary: &Path,
        env: &[(&str, String)],
        event: &str,
        deadline: Duration,
        limit: Result<(), Duration>,
    ) -> anyhow::Result<Run> {
        let server = Server::http("127.0.0.1:0")
            .map_err(|e| anyhow::anyhow!("cannot start the Runtime API: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .context("Runtime API is not on an IP address")?;
        let (tx, rx) = mpsc::channel::<Outcome>();
        let (served_tx, served_rx) = mpsc::channel::<std::time::Instant>();
        let event = event.to_owned();
        let serve = std::thread::spawn(move || serve(server, &event, deadline, tx, served_tx));

        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "patrol-test-function")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/patrol-test-function",
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let mut api = RuntimeApi { child };
        let stdout = drain(api.child.stdout.take());
        let stderr = drain(api.child.stderr.take());

        let started = std::time::Instant::now();
        let mut served_at = None;
        // The answer, or how the process exited without one.
        let answer = loop {
            if let Ok(at) = served_rx.try_recv() {
                served_at = Some(at);
            }
            if let Ok(outcome) = rx.recv_timeout(Duration::from_millis(20)) {
                drop(serve); // the thread ends with the process
                break Ok(outcome);
            }
            if let Some(status) = api.child.try_wait()? {
                // A last answer may have arrived just before the exit.
                break rx.try_recv().map_err(|_| status);
            }
            match limit {
                Ok(()) => {
                    if served_at.is_some_and(|at| at.elapsed() >= deadline) {
                        break Ok(Outcome::TimedOut);
                    }
                    anyhow::ensure!(
                        started.elapsed() < deadline + Duration::from_secs(60),
                        "the invocation was never served"
                    );
                }
                Err(timeout) => anyhow::ensure!(
                    started.elapsed() < timeout,
                    "the function did not answer within {timeout:?}"
                ),
            }
        };
        let elapsed = served_at.unwrap_or(started).elapsed();
        drop(api); // killed: its pipes reach their end
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        let outcome = answer.unwrap_or_else(|status| Outcome::Exited {
            status: status.to_string(),
            stderr: format!("{stdout}{stderr}"),
        });
        Ok(Run {
            outcome,
            stdout,
            stderr,
            elapsed,
        })
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn serve(
    server: Server,
    event: &str,
    deadline: Duration,
    tx: mpsc::Sender<Outcome>,
    served_tx: mpsc::Sender<std::time::Instant>,
) {
    let mut served = false;
    let mut held = Vec::new(); // later polls: answered never, as between invocations
    for mut req in server.incoming_requests() {
        let url = req.url().to_owned();
        let mut body = String::new();
        let _ = req.as_reader().read_to_string(&mut body);
        let error_type = req
            .headers()
            .iter()
            .find(|h| h.field.equiv("Lambda-Runtime-Function-Error-Type"))
            .map(|h| h.value.to_string())
            .unwrap_or_default();
        if url.ends_with("/runtime/invocation/next") {
            if served {
                held.push(req);
                continue;
            }
            served = true;
            let _ = served_tx.send(std::time::Instant::now());
            let deadline_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + deadline.as_millis())
                .unwrap_or_default();
            let mut resp = Response::from_string(event.to_owned());
            let headers: HashMap<&str, String> = HashMap::from([
                ("Content-Type", "application/json".to_owned()),
                ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID.to_owned()),
                ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:111111111111:function:patrol-test-function"
                        .to_owned(),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
                        .to_owned(),
                ),
            ]);
            for (k, v) in headers {
                if let Some(h) = header(k, &v) {
                    resp.add_header(h);
                }
            }
            let _ = req.respond(resp);
            continue;
        }
        let outcome = if url.ends_with("/runtime/init/error") {
            Some(Outcome::InitError { error_type, body })
        } else if url.ends_with(&format!("/invocation/{REQUEST_ID}/response")) {
            Some(Outcome::Response(body))
        } else if url.ends_with(&format!("/invocation/{REQUEST_ID}/error")) {
            Some(Outcome::Error { error_type, body })
        } else {
            None
        };
        let status = if outcome.is_some() { 202 } else { 404 };
        let _ = req.respond(Response::from_string("{}").with_status_code(status));
        if let Some(o) = outcome
            && tx.send(o).is_err()
        {
            return;
        }
    }
}
