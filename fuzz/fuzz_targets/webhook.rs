//! What arrives from outside through a trigger: SNS messages wrapped as events
//! (`wrap_sns`), webhook requests verified (`patrol_aws::signature`) and wrapped
//! (`wrap_webhook`). Never panics; a request signed with the secret verifies, and one
//! signed with another secret or over another body does not.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use patrol_aws::signature;
use patrol_core::event::{wrap_sns, wrap_webhook};
use patrol_core::manifest::WebhookProvider;
use serde_json::{Map, Value};

#[derive(Debug, Arbitrary)]
struct Input {
    provider: u8,
    headers: Vec<(String, String)>,
    secret: Vec<u8>,
    topic_arn: String,
    message_id: String,
    subject: Option<String>,
    attributes: Vec<(String, String)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let provider = WebhookProvider::ALL[usize::from(input.provider) % WebhookProvider::ALL.len()];
    let headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    const NOW: i64 = 1_717_200_000;
    let verified = signature::verify_webhook(provider, &header, &input.secret, &input.body, NOW);
    // A request whose headers are malformed is refused before any secret is needed.
    if let Err(e) = signature::check_headers(provider, &header, NOW) {
        assert_eq!(verified.as_ref().err(), Some(&e));
    } else {
        let _ = signature::signed_digest(provider, &header, &input.body);
    }
    if let Ok(event) = wrap_webhook(
        provider,
        &header,
        &input.body,
        "2024-06-01T00:00:00Z",
        "req-1",
    ) {
        assert!(event.get("detail").is_some_and(Value::is_object));
    }
    // Signed as the provider signs, it verifies; the same signature over another body
    // does not.
    let signed = signature::sign(&input.secret, &input.body);
    let signed_generic = signature::sign_generic(&input.secret, NOW, &input.body);
    let good = |name: &str| match (provider, name) {
        (WebhookProvider::Github, "x-hub-signature-256") => Some(signed.clone()),
        (WebhookProvider::Generic, "x-signature-256") => Some(signed_generic.clone()),
        (WebhookProvider::Generic, signature::TIMESTAMP_HEADER) => Some(NOW.to_string()),
        (WebhookProvider::Gitlab, "x-gitlab-token") => {
            Some(String::from_utf8_lossy(&input.secret).into_owned())
        }
        _ => None,
    };
    // A GitLab token is the secret itself, sent as header text: only a non-empty UTF-8
    // secret of at most 1 KiB can be sent.
    let gitlab_unsendable = provider == WebhookProvider::Gitlab
        && (input.secret.is_empty()
            || input.secret.len() > 1024
            || std::str::from_utf8(&input.secret).is_err());
    if !gitlab_unsendable {
        assert_eq!(
            signature::verify_webhook(provider, &good, &input.secret, &input.body, NOW),
            Ok(()),
            "{provider:?}"
        );
    }
    if provider != WebhookProvider::Gitlab {
        let mut other = input.body.clone();
        other.push(b' ');
        assert!(signature::verify_webhook(provider, &good, &input.secret, &other, NOW).is_err());
    }
    let _ = verified;

    let message = String::from_utf8_lossy(&input.body);
    let attributes: Map<String, Value> = input
        .attributes
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let event = wrap_sns(
        &input.topic_arn,
        &input.message_id,
        "2024-06-01T00:00:00Z",
        input.subject.as_deref(),
        &message,
        attributes,
    );
    assert_eq!(event["source"], "patrol.sns");
    // The wrapped event is one a pattern can be matched against.
    let text = event.to_string();
    let m = patrol_core::pattern::Matcher::new(&[]);
    assert!(m.matches_json(text.as_bytes()).is_ok());
});
