//! A moto server for one test: 127.0.0.1, a free port, killed on drop (also when the test
//! panics), so no server outlives its test.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub port: u16,
}

pub const REGION: &str = "us-east-1";

fn moto_server_path() -> PathBuf {
    std::env::var_os("PATROL_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::paths::workspace().join(".venv/bin/moto_server"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Moto {
    pub fn start() -> anyhow::Result<Moto> {
        let exe = moto_server_path();
        anyhow::ensure!(
            exe.is_file(),
            "{} not found: run `make setup` to install moto into .venv/",
            exe.display()
        );
        // A port can be taken between probing and binding; try a few.
        let mut last_err = None;
        for _ in 0..5 {
            let port = free_port()?;
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot start {}", exe.display()))?;
            let mut moto = Moto { child, port };
            match moto.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return Ok(moto),
                Err(e) => last_err = Some(e), // dropped here: killed
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("moto did not start")))
    }

    fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("moto_server exited early with {status}");
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!(
            "moto_server not listening on port {} after {timeout:?}",
            self.port
        )
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a function or CLI needs to reach this server through the SDK's
    /// standard configuration.
    pub fn sdk_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "patrol-tests",
            ))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
