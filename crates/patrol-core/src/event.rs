//! Events as rules see them: EventBridge events, and CloudTrail records wrapped exactly
//! as EventBridge wraps them (`source`, `detail-type` per `eventType`, `account`,
//! `region`, `time`, `id`), so offline runs see what the live path sees.
//!
//! Also the facts every alert needs from an event (actor, source IP, …), read the same
//! way everywhere.

use serde_json::{Map, Value, json};

/// EventBridge's `detail-type` for a CloudTrail record's `eventType`.
pub fn detail_type_for(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "AwsApiCall" => "AWS API Call via CloudTrail",
        "AwsConsoleSignIn" => "AWS Console Sign In via CloudTrail",
        "AwsConsoleAction" => "AWS Console Action via CloudTrail",
        "AwsServiceEvent" => "AWS Service Event via CloudTrail",
        "AwsCloudTrailInsight" => "AWS Insight via CloudTrail",
        _ => return None,
    })
}

/// EventBridge's `source` for a CloudTrail `eventSource`: `iam.amazonaws.com` → `aws.iam`,
/// `signin.amazonaws.com` → `aws.signin`.
pub fn source_for(event_source: &str) -> String {
    let service = event_source.split('.').next().unwrap_or(event_source);
    format!("aws.{service}")
}

/// Whether a JSON object looks like an EventBridge event (as opposed to a raw record).
pub fn is_eventbridge_event(value: &Value) -> bool {
    value.get("detail-type").is_some() && value.get("detail").is_some()
}

/// Why a JSON value could not be turned into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("expected a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error(
        "neither an EventBridge event (no `detail-type`/`detail`) nor a CloudTrail record (no `eventSource`)"
    )]
    Unrecognized,
    #[error("CloudTrail record has an unknown `eventType` {0:?}")]
    UnknownEventType(String),
    #[error("{0}")]
    Invalid(String),
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Accepts an EventBridge event (returned as is) or a CloudTrail record (wrapped).
pub fn to_eventbridge(value: Value) -> Result<Value, EventError> {
    if !value.is_object() {
        return Err(EventError::NotAnObject(kind(&value)));
    }
    if is_eventbridge_event(&value) {
        return Ok(value);
    }
    if value.get("eventSource").is_none() {
        return Err(EventError::Unrecognized);
    }
    wrap_cloudtrail_record(value)
}

/// Wraps a CloudTrail record as EventBridge delivers it.
pub fn wrap_cloudtrail_record(record: Value) -> Result<Value, EventError> {
    let str_of = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_owned);
    let event_type = str_of("eventType").unwrap_or_else(|| "AwsApiCall".to_owned());
    let detail_type =
        detail_type_for(&event_type).ok_or(EventError::UnknownEventType(event_type))?;
    let source = source_for(&str_of("eventSource").unwrap_or_default());
    let account = str_of("recipientAccountId")
        .or_else(|| {
            record
                .pointer("/userIdentity/accountId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let mut event = Map::new();
    event.insert("version".into(), json!("0"));
    event.insert("id".into(), json!(str_of("eventID").unwrap_or_default()));
    event.insert("detail-type".into(), json!(detail_type));
    event.insert("source".into(), json!(source));
    event.insert("account".into(), json!(account));
    event.insert(
        "time".into(),
        json!(str_of("eventTime").unwrap_or_default()),
    );
    event.insert(
        "region".into(),
        json!(str_of("awsRegion").unwrap_or_default()),
    );
    event.insert("resources".into(), json!([]));
    event.insert("detail".into(), record);
    Ok(Value::Object(event))
}

/// An SNS message, as a rule with an `sns` trigger sees it: an EventBridge-shaped event
/// with `source = "patrol.sns"`, `detail-type = "SNS Message"`, the topic's account and
/// region, and in `detail` SNS's own field names: `Message` (parsed when it is JSON, so
/// `detail.Message.AlarmName` works for CloudWatch alarms; the text otherwise),
/// `Subject`, `MessageAttributes` (name → string value), `TopicArn`, `MessageId`,
/// `Timestamp`.
pub fn wrap_sns(
    topic_arn: &str,
    message_id: &str,
    timestamp: &str,
    subject: Option<&str>,
    message: &str,
    attributes: Map<String, Value>,
) -> Value {
    let arn: Vec<&str> = topic_arn.split(':').collect();
    let (region, account) = match arn.as_slice() {
        [_, _, _, region, account, _] => (*region, *account),
        _ => ("", ""),
    };
    let parsed = serde_json::from_str::<Value>(message)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
        .unwrap_or_else(|| Value::String(message.to_owned()));
    json!({
        "version": "0",
        "id": message_id,
        "detail-type": "SNS Message",
        "source": "patrol.sns",
        "account": account,
        "time": timestamp,
        "region": region,
        "resources": [topic_arn],
        "detail": {
            "Message": parsed,
            "Subject": subject,
            "MessageAttributes": attributes,
            "TopicArn": topic_arn,
            "MessageId": message_id,
            "Timestamp": timestamp,
        },
    })
}

/// A verified webhook request, as a rule with a `webhook` trigger sees it: `source =
/// "patrol.webhook.<provider>"`, `detail-type` the provider's event type header
/// (`X-GitHub-Event`, `X-Gitlab-Event`, `X-Patrol-Event`; `Webhook` when absent), `id`
/// its delivery id header (or `request_id`), and the JSON body as `detail`.
/// `header` looks a header up by lowercase name.
pub fn wrap_webhook(
    provider: crate::manifest::WebhookProvider,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    received: &str,
    request_id: &str,
) -> Result<Value, EventError> {
    use crate::manifest::WebhookProvider;
    let detail: Value = serde_json::from_slice(body)
        .map_err(|e| EventError::Invalid(format!("the webhook body is not JSON: {e}")))?;
    if !detail.is_object() {
        return Err(EventError::Invalid(
            "the webhook body is not a JSON object".to_owned(),
        ));
    }
    let (type_header, id_header) = match provider {
        WebhookProvider::Github => ("x-github-event", "x-github-delivery"),
        WebhookProvider::Gitlab => ("x-gitlab-event", "x-gitlab-event-uuid"),
        WebhookProvider::Generic => ("x-patrol-event", "x-patrol-delivery"),
    };
    Ok(json!({
        "version": "0",
        "id": header(id_header).unwrap_or_else(|| request_id.to_owned()),
        "detail-type": header(type_header).unwrap_or_else(|| "Webhook".to_owned()),
        "source": format!("patrol.webhook.{}", provider.as_str()),
        "account": "",
        "time": received,
        "region": "",
        "resources": [],
        "detail": detail,
    }))
}

/// EventBridge delivers read-only management events (`readOnly: true`) only to rules in
/// the `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` state.
pub fn is_read_only_management_event(event: &Value) -> bool {
    event.get("detail-type").and_then(Value::as_str) == Some("AWS API Call via CloudTrail")
        && event.pointer("/detail/readOnly").and_then(Value::as_bool) == Some(true)
}

/// Who did it, in the most useful form the record offers.
pub fn actor(event: &Value) -> Option<String> {
    let Some(identity) = event.pointer("/detail/userIdentity") else {
        return webhook_actor(event);
    };
    let get = |k: &str| identity.get(k).and_then(Value::as_str);
    if get("type") == Some("Root") {
        return Some(match get("accountId") {
            Some(account) => format!("root ({account})"),
            None => "root".to_owned(),
        });
    }
    if let Some(session_issuer) = identity
        .pointer("/sessionContext/sessionIssuer/arn")
        .and_then(Value::as_str)
    {
        // An assumed role: the role, and the session name that says who assumed it.
        let session = get("arn").and_then(|arn| arn.rsplit('/').next());
        return Some(match session {
            Some(s) => format!("{session_issuer} (session {s})"),
            None => session_issuer.to_owned(),
        });
    }
    get("arn")
        .or_else(|| get("userName"))
        .or_else(|| get("principalId"))
        .or_else(|| get("invokedBy"))
        .map(str::to_owned)
}

/// The actor of a webhook event: GitHub's `sender.login`, GitLab's `user_username` or
/// `user.username`.
fn webhook_actor(event: &Value) -> Option<String> {
    [
        "/detail/sender/login",
        "/detail/user_username",
        "/detail/user/username",
    ]
    .iter()
    .find_map(|p| event.pointer(p).and_then(Value::as_str))
    .map(str::to_owned)
}

pub fn source_ip(event: &Value) -> Option<String> {
    event
        .pointer("/detail/sourceIPAddress")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A link to the event in the CloudTrail console, when the event has an id and a region.
pub fn console_url(event: &Value) -> Option<String> {
    let id = event.pointer("/detail/eventID").and_then(Value::as_str)?;
    let region = event.get("region").and_then(Value::as_str)?;
    if region.is_empty() || id.is_empty() {
        return None;
    }
    Some(format!(
        "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{id}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_login() -> Value {
        json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "Root", "principalId": "111111111111", "arn": "arn:aws:iam::111111111111:root", "accountId": "111111111111"},
            "eventTime": "2026-11-01T08:00:00Z",
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "eventID": "3f0c8a1e-0000-4000-8000-000000000001",
            "eventType": "AwsConsoleSignIn",
            "recipientAccountId": "111111111111"
        })
    }

    #[test]
    fn wraps_sign_in_as_eventbridge_does() {
        let event = to_eventbridge(root_login()).expect("wraps");
        assert_eq!(event["source"], "aws.signin");
        assert_eq!(event["detail-type"], "AWS Console Sign In via CloudTrail");
        assert_eq!(event["account"], "111111111111");
        assert_eq!(event["region"], "us-east-1");
        assert_eq!(event["time"], "2026-11-01T08:00:00Z");
        assert_eq!(event["id"], "3f0c8a1e-0000-4000-8000-000000000001");
        assert_eq!(event["detail"]["eventName"], "ConsoleLogin");
    }

    #[test]
    fn eventbridge_events_pass_through_unchanged() {
        let event = to_eventbridge(root_login()).expect("wraps");
        assert_eq!(to_eventbridge(event.clone()), Ok(event));
    }

    #[test]
    fn rejects_what_is_neither() {
        assert_eq!(
            to_eventbridge(json!([1])),
            Err(EventError::NotAnObject("an array"))
        );
        assert_eq!(
            to_eventbridge(json!({"a": 1})),
            Err(EventError::Unrecognized)
        );
        assert!(matches!(
            to_eventbridge(json!({"eventSource": "x.amazonaws.com", "eventType": "Nope"})),
            Err(EventError::UnknownEventType(_))
        ));
    }

    #[test]
    fn actor_names_root_roles_and_users() {
        let event = to_eventbridge(root_login()).expect("wraps");
        assert_eq!(actor(&event).as_deref(), Some("root (111111111111)"));
        let role = json!({"detail": {"userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::1:assumed-role/Admin/alice",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/Admin"}}}}});
        assert_eq!(
            actor(&role).as_deref(),
            Some("arn:aws:iam::1:role/Admin (session alice)")
        );
        let user = json!({"detail": {"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/bob"}}});
        assert_eq!(actor(&user).as_deref(), Some("arn:aws:iam::1:user/bob"));
    }

    #[test]
    fn read_only_events_are_recognised() {
        let ev =
            json!({"detail-type": "AWS API Call via CloudTrail", "detail": {"readOnly": true}});
        assert!(is_read_only_management_event(&ev));
        let ev =
            json!({"detail-type": "AWS API Call via CloudTrail", "detail": {"readOnly": false}});
        assert!(!is_read_only_management_event(&ev));
    }
}
