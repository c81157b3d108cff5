//! `s3://bucket/prefix` sources through the AWS SDK: the standard credential chain,
//! region and `AWS_ENDPOINT_URL` (path-style addressing when an endpoint is set, as local
//! emulators and most S3-compatible stores need). Objects are fetched one at a time per
//! worker and read as they arrive ([`Object`]): never held whole, whatever their size.

use anyhow::Context as _;
use aws_sdk_s3::Client;

#[derive(Debug)]
pub struct S3 {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl S3 {
    pub fn connect() -> anyhow::Result<S3> {
        S3::connect_with(aws_config::defaults(aws_config::BehaviorVersion::latest()))
    }

    /// With explicit configuration (tests point it at a local emulator).
    pub fn connect_with(loader: aws_config::ConfigLoader) -> anyhow::Result<S3> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime for S3")?;
        let config = runtime.block_on(loader.load());
        let custom_endpoint =
            config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let client = Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(custom_endpoint)
                .build(),
        );
        Ok(S3 { runtime, client })
    }

    /// Every object under the prefix, in key order, with its size.
    pub fn list(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<(String, u64)>> {
        self.runtime.block_on(async {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    anyhow::anyhow!(
                        "cannot list s3://{bucket}/{prefix}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                })?;
                for object in page.contents() {
                    if let Some(key) = object.key() {
                        let size = object.size().and_then(|s| u64::try_from(s).ok());
                        out.push((key.to_owned(), size.unwrap_or(0)));
                    }
                }
            }
            out.sort();
            Ok(out)
        })
    }

    /// One object, to read as its body arrives.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Object<'_>, String> {
        let object = self
            .runtime
            .block_on(self.client.get_object().bucket(bucket).key(key).send())
            .map_err(|e| {
                format!(
                    "cannot get the object: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        Ok(Object {
            runtime: &self.runtime,
            body: object.body,
            chunk: Vec::new(),
            at: 0,
        })
    }
}

/// An object's body as a reader: each chunk is awaited when the last one is used up.
pub struct Object<'a> {
    runtime: &'a tokio::runtime::Runtime,
    body: aws_sdk_s3::primitives::ByteStream,
    chunk: Vec<u8>,
    at: usize,
}

impl std::fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object").finish_non_exhaustive()
    }
}

impl std::io::Read for Object<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.runtime.block_on(self.body.try_next()) {
                Ok(Some(bytes)) => {
                    self.chunk.clear();
                    self.chunk.extend_from_slice(&bytes);
                    self.at = 0;
                }
                Ok(None) => return Ok(0),
                Err(e) => {
                    return Err(std::io::Error::other(format!(
                        "cannot read the object: {e}"
                    )));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! Against moto in server mode on 127.0.0.1 (from `.venv/`, as `make setup` installs
    //! it); skipped when it is not installed.

    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    pub(in crate::commands::replay) struct Moto {
        child: Child,
        port: u16,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn moto() -> anyhow::Result<Option<Moto>> {
        let exe = workspace().join(".venv/bin/moto_server");
        if !exe.is_file() {
            eprintln!("skipped: {} not installed (make setup)", exe.display());
            return Ok(None);
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let moto = Moto { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Some(moto))
    }

    /// One unsigned request (moto does not check signatures); the status code.
    fn http(port: u16, method: &str, path: &str, body: &[u8]) -> anyhow::Result<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(body)?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no status in {response:?}"))
    }

    pub(in crate::commands::replay) fn put(
        port: u16,
        path: &str,
        body: &[u8],
    ) -> anyhow::Result<()> {
        let status = http(port, "PUT", path, body)?;
        anyhow::ensure!(status == 200, "upload {path}: {status}");
        Ok(())
    }

    fn upload(port: u16, dir: &Path, root: &Path, prefix: &str) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                upload(port, &path, root, prefix)?;
            } else {
                let key = path.strip_prefix(root)?.to_string_lossy().into_owned();
                let status = http(
                    port,
                    "PUT",
                    &format!("{prefix}/{key}"),
                    &std::fs::read(&path)?,
                )?;
                anyhow::ensure!(status == 200, "upload {key}: {status}");
            }
        }
        Ok(())
    }

    pub(in crate::commands::replay) fn client(port: u16) -> anyhow::Result<S3> {
        S3::connect_with(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(format!("http://127.0.0.1:{port}"))
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_s3::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "patrol-tests",
                )),
        )
    }

    /// Starts moto with the fixture archive under `s3://trail-logs/org/`.
    pub(in crate::commands::replay) fn archive_in_moto() -> anyhow::Result<Option<(Moto, u16)>> {
        let Some(moto) = moto()? else {
            return Ok(None);
        };
        let port = moto.port;
        anyhow::ensure!(
            http(port, "PUT", "/trail-logs", b"")? == 200,
            "create bucket"
        );
        let archive = workspace().join("tests/fixtures/replay/archive");
        upload(port, &archive, &archive, "/trail-logs/org")?;
        Ok(Some((moto, port)))
    }

    #[test]
    fn lists_in_key_order_and_gets_objects() -> anyhow::Result<()> {
        let Some((_moto, port)) = archive_in_moto()? else {
            return Ok(());
        };
        let s3 = client(port)?;
        let keys = s3.list("trail-logs", "org/AWSLogs/111111111111/")?;
        assert!(keys.len() > 5, "{keys:?}");
        assert!(keys.windows(2).all(|w| w[0].0 < w[1].0));
        let (key, size) = &keys[0];
        let mut body = Vec::new();
        s3.get("trail-logs", key)
            .map_err(anyhow::Error::msg)?
            .read_to_end(&mut body)?;
        assert_eq!(body.len() as u64, *size);
        assert!(s3.get("trail-logs", "org/nope").is_err());
        Ok(())
    }
}
