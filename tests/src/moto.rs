//! A moto server for one test: 127.0.0.1, a free port, killed on drop (also when the test
//! panics), so no server outlives its test; and the resources a Patrol function uses,
//! created on it as the CDK app creates them (the state table, topics, queues).

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

/// An SNS topic with an SQS queue subscribed: the queue sees what email subscribers would.
#[derive(Debug)]
pub struct TopicSpy {
    pub topic_arn: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl TopicSpy {
    /// Every SNS envelope the queue got since the last call (each one once: read and
    /// deleted), waiting up to a second for the first.
    pub async fn take(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .wait_time_seconds(if all.is_empty() { 1 } else { 0 })
                .max_number_of_messages(10)
                .send()
                .await?;
            let messages = out.messages();
            if messages.is_empty() {
                return Ok(all);
            }
            for m in messages {
                all.push(serde_json::from_str(m.body().unwrap_or_default())?);
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
        }
    }
}

impl Moto {
    /// The state table as the CDK app creates it: partition key `pk` (S).
    pub async fn state_table(&self, name: &str) -> anyhow::Result<aws_sdk_dynamodb::Client> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let ddb = aws_sdk_dynamodb::Client::new(&self.sdk_config().await);
        ddb.create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await?;
        Ok(ddb)
    }

    /// A queue; its URL.
    pub async fn queue(&self, name: &str) -> anyhow::Result<(aws_sdk_sqs::Client, String)> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk_config().await);
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await?
            .queue_url
            .context("no queue URL")?;
        Ok((sqs, url))
    }

    /// Topic `topic_name` with a spy queue subscribed.
    pub async fn topic_with_spy(&self, topic_name: &str) -> anyhow::Result<TopicSpy> {
        let sns = aws_sdk_sns::Client::new(&self.sdk_config().await);
        let topic_arn = sns
            .create_topic()
            .name(topic_name)
            .send()
            .await?
            .topic_arn
            .context("no topic ARN")?;
        let (sqs, queue_url) = self.queue(&format!("{topic_name}-spy")).await?;
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .context("no queue ARN")?
            .clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await?;
        Ok(TopicSpy {
            topic_arn,
            sqs,
            queue_url,
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
