//! Test harnesses shared by the end-to-end tests:
//!
//! - [`moto::Moto`]: a moto server (from `.venv/`) on 127.0.0.1 on a free port, stopped on
//!   drop, with SDK config pointing at it (dummy credentials, no IMDS), and the resources
//!   a function uses (state table, topics with spy queues, queues).
//! - [`runtime_api::RuntimeApi`]: a local AWS Lambda Runtime API that runs a real function
//!   binary for one invocation and records what it answered and printed (and can kill it
//!   at its deadline, as Lambda does); [`function`] runs `notify` through it and reads its
//!   answers, log lines and metric lines.
//! - [`handler_config`]: a handler's config file as the CDK app writes it, and its
//!   environment.
//! - [`paths`]: where the workspace, the built binaries and the fixtures are.
//! - [`capture::CaptureServer`]: a local HTTP endpoint that records what sinks send;
//!   [`capture::SilentServer`], one that accepts connections and never answers.

pub mod bench;
pub mod capture;
pub mod function;
pub mod handler_config;
pub mod moto;
pub mod paths;
pub mod runtime_api;
