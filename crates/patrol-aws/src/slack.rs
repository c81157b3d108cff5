//! The Slack sink: an incoming webhook (the URL is the secret's value, or its
//! `webhook_url` field), posted a Block Kit message with a plain-text fallback.
//!
//! Everything an event wrote is made inert ([`escape`]) and every text is cut to Slack's
//! limits with a note saying how much was cut.

use patrol_core::alert::{Alert, cut, note, was_cut};
use patrol_core::manifest::Severity;
use serde_json::{Value, json};

use crate::http::{HttpSender, check_url};
use crate::secrets::SecretValue;

fn emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        Severity::Low => ":large_yellow_circle:",
        Severity::Info => ":information_source:",
    }
}

// Slack's limits (Block Kit reference, chat.postMessage): top-level `text` 40,000
// characters, 50 blocks, section text 3,000, a field 2,000 (10 fields), a header 150, a
// button URL 3,000, a context block 10 elements. The fallback line is kept to 3,000: it is
// what notifications show.
const FALLBACK_CHARS: usize = 3_000;
const SECTION_CHARS: usize = 3_000;
const FIELD_CHARS: usize = 2_000;
const HEADER_CHARS: usize = 150;
const URL_CHARS: usize = 3_000;
const CONTEXT_CHARS: usize = 3_000;
/// Slack's own maximums, checked by the tests.
#[cfg(test)]
const MAX_TEXT_CHARS: usize = 40_000;
#[cfg(test)]
const MAX_BLOCKS: usize = 50;
#[cfg(test)]
const MAX_FIELDS: usize = 10;

/// Alert text made inert for mrkdwn. Everything from an event (the message, the actor, …)
/// may be written by an attacker: an IAM tag, a commit message, a session name. `&`, `<`
/// and `>` are escaped as Slack requires, so `<!channel>`, `<!here>`, `<@U123>`,
/// `<!subteam^S123>` and `<https://evil|https://aws.amazon.com>` show as typed instead of
/// pinging or hiding a link; the bare `@channel`, `@here` and `@everyone` keywords get a
/// word joiner after the `@` so no client setting turns them into mentions either.
fn escape(s: &str) -> String {
    defuse_keywords(&entities(s))
}

/// The three characters Slack requires escaped.
fn entities(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn defuse_keywords(s: &str) -> String {
    const KEYWORDS: [&str; 3] = ["channel", "here", "everyone"];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('@') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let head: String = rest
            .chars()
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        if KEYWORDS.iter().any(|k| head.starts_with(k)) {
            out.push('\u{2060}');
        }
    }
    out.push_str(rest);
    out
}

/// `s` made inert ([`escape`]) in at most `max` characters: cut before escaping, so an
/// entity is never split, and ending in the truncation note when cut.
fn inert(s: &str, max: usize) -> String {
    let whole = escape(s);
    if whole.chars().count() <= max {
        return whole;
    }
    let room = max.saturating_sub(note(s.len()).chars().count());
    // Byte end of each prefix, by its length in characters (0 characters end at 0).
    let ends: Vec<usize> = std::iter::once(0)
        .chain(s.char_indices().map(|(i, c)| i + c.len_utf8()))
        .collect();
    let fits = |chars: usize| escape(&s[..ends[chars]]).chars().count() <= room;
    // The longest prefix whose escaped form fits (escaping only grows a prefix).
    let (mut lo, mut hi) = (0usize, ends.len() - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let end = ends[lo];
    format!("{}{}", escape(&s[..end]), note(s.len() - end))
}

/// One line: facts from an event never start a new line (a forged `*Severity*` field).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A mrkdwn text object. `verbatim`: Slack does not auto-link URLs, channel names or
/// mentions in it; only the `<…>` links Patrol writes itself are links.
fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

fn is_link(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && !was_cut(s)
}

/// `<url|label>`, both escaped (a URL keeps its `@`s).
fn link(url: &str, label: &str) -> String {
    format!("<{}|{}>", entities(url), escape(label))
}

/// The references as one mrkdwn line, ATT&CK ids and URLs as links, cut at whole entries.
fn references(alert: &Alert) -> Option<String> {
    if alert.references.is_empty() {
        return None;
    }
    let mut out = "*References:* ".to_owned();
    let mut left = 0usize;
    for (i, (text, url)) in alert.reference_links().into_iter().enumerate() {
        let item = match url {
            Some(u) if u.len() <= URL_CHARS => link(&u, &text),
            _ => escape(&text),
        };
        let sep = if i == 0 { "" } else { " · " };
        if out.chars().count() + sep.len() + item.chars().count() + 40 > CONTEXT_CHARS {
            left += alert.references[i..].iter().map(String::len).sum::<usize>();
            break;
        }
        out.push_str(sep);
        out.push_str(&item);
    }
    if left > 0 {
        out.push_str(&note(left));
    }
    Some(out)
}

/// The message body: `text` is the notification and fallback line, `blocks` the layout.
/// Every part is within Slack's limits, cut with a note where an alert is larger.
pub fn payload(alert: &Alert) -> Value {
    let severity = alert.severity.as_str().to_uppercase();
    let text = inert(
        &format!("[{severity}] {}: {}", alert.rule, alert.message),
        FALLBACK_CHARS,
    );
    let dash = "-".to_owned();
    let fact = |v: &Option<String>| one_line(v.as_ref().unwrap_or(&dash));
    let where_ = match (&alert.account, &alert.region) {
        (None, None) => dash.clone(),
        (a, r) => format!("{} / {}", fact(a), fact(r)),
    };
    let field = |name: &str, value: &str| {
        let label = format!("*{name}*\n");
        mrkdwn(format!(
            "{label}{}",
            inert(value, FIELD_CHARS - label.chars().count())
        ))
    };
    let mut fields = vec![
        field("Severity", alert.severity.as_str()),
        field("Actor", &fact(&alert.actor)),
        field("Account / region", &where_),
        field("Source IP", &fact(&alert.source_ip)),
        field("Time", &fact(&alert.time)),
        field(
            "Event",
            &format!("{} {}", fact(&alert.event_name), fact(&alert.event_id)),
        ),
    ];
    let mut buttons = Vec::new();
    if let Some(url) = alert
        .console_url
        .as_deref()
        .filter(|u| is_link(u) && u.chars().count() <= URL_CHARS)
    {
        buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Open in console"}, "url": url}));
    }
    match alert.runbook.as_deref() {
        Some(r) if is_link(r) && r.chars().count() <= URL_CHARS => buttons.push(
            json!({"type": "button", "text": {"type": "plain_text", "text": "Runbook"}, "url": r}),
        ),
        Some(r) => fields.push(field("Runbook", r)),
        None => {}
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": cut(&format!("{} {severity}: {}", emoji(alert.severity), alert.title), HEADER_CHARS)}}),
        json!({"type": "section", "text": mrkdwn(inert(&alert.message, SECTION_CHARS))}),
        json!({"type": "section", "fields": fields}),
    ];
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    let mut context = vec![mrkdwn(format!(
        "Patrol rule `{}`",
        inert(&alert.rule, CONTEXT_CHARS - 20)
    ))];
    if let Some(refs) = references(alert) {
        context.push(mrkdwn(refs));
    }
    blocks.push(json!({"type": "context", "elements": context}));
    json!({"text": text, "blocks": blocks})
}

/// Posts the alert to the webhook URL held in `secret` (named `secret_name` in errors).
pub async fn send(
    http: &HttpSender,
    secret_name: &str,
    secret: &SecretValue,
    alert: &Alert,
) -> Result<String, String> {
    let url = secret.field("webhook_url");
    let parsed = check_url(url.expose()).map_err(|e| {
        format!("secret `{secret_name}` does not hold a usable Slack webhook URL: {e}")
    })?;
    let body = serde_json::to_vec(&payload(alert)).map_err(|e| e.to_string())?;
    let answer = http
        .post_json(&parsed, body, &[], &[url.expose()])
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("slack:{}", answer.status))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alert() -> Alert {
        Alert {
            rule: "root-console-login".into(),
            severity: Severity::Critical,
            title: "The root user signed in to the AWS Management Console".into(),
            message: "Root console sign-in to 111111111111 from 203.0.113.7 <script>".into(),
            actor: Some("root (111111111111)".into()),
            source_ip: Some("203.0.113.7".into()),
            account: Some("111111111111".into()),
            region: Some("us-east-1".into()),
            time: Some("2026-11-01T08:00:00Z".into()),
            event_id: Some("3f0c8a1e-0000-4000-8000-000000000001".into()),
            event_name: Some("ConsoleLogin".into()),
            console_url: Some("https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/3f0c8a1e-0000-4000-8000-000000000001".into()),
            runbook: Some("https://wiki.example.com/runbooks/root-login".into()),
            dedup_key: Some("111111111111".into()),
            references: vec!["T1078.004".into(), "CIS-AWS-1.7".into()],
        }
    }

    /// An alert from a rule whose message template renders a 600 kB event field (and
    /// whose dedup key renders another 100 kB), as a webhook body or a tagged resource can.
    pub(crate) fn huge_alert() -> Alert {
        let manifest = r#"
[notify.s]
type = "sns"
[rules.huge-field]
description = "A rule whose message renders a huge event field"
severity = "high"
notify = ["s"]
trigger.pattern = { source = ["aws.iam"] }
message = "{{ detail.big }}"
tests = [{ event = "a.json", expect = "alert" }, { event = "b.json", expect = "quiet" }]
dedup = { key = "{{ detail.key }}", window = "1h" }
references = ["T1078.004", "CIS-AWS-1.7", "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles.html"]
"#;
        let m = patrol_core::manifest::validate_str(manifest, "rules.toml", &Default::default())
            .unwrap_or_else(|d| panic!("{d:?}"));
        let event = json!({"account": "111111111111", "region": "us-east-1",
            "time": "2026-11-01T08:00:00Z",
            "detail": {"eventID": "e-1", "eventName": "TagRole",
                "big": format!("<!channel> {}", "<x> & y ".repeat(75_000)),
                "key": "k".repeat(100_000),
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/eve"}}});
        let rule = m.rule("huge-field").expect("rule");
        patrol_core::alert::build(rule, &event).expect("renders")
    }

    /// Every string in a JSON value, with the key it is under.
    fn strings<'a>(v: &'a Value, key: &'a str, out: &mut Vec<(&'a str, &'a str)>) {
        match v {
            Value::String(s) => out.push((key, s)),
            Value::Array(a) => a.iter().for_each(|x| strings(x, key, out)),
            Value::Object(m) => m.iter().for_each(|(k, x)| strings(x, k, out)),
            _ => {}
        }
    }

    /// Every text object (`{"type": "mrkdwn" | "plain_text", "text": ...}`) in a payload.
    fn text_objects(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(m) => {
                if matches!(
                    m.get("type").and_then(Value::as_str),
                    Some("mrkdwn" | "plain_text")
                ) {
                    out.push(v.clone());
                }
                m.values().for_each(|x| text_objects(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| text_objects(x, out)),
            _ => {}
        }
    }

    /// What an attacker can write into an event: an IAM tag, a commit message, a user name.
    fn hostile() -> Alert {
        let mut a = alert();
        a.message = "<!channel> deployed by <@U024BE7LH> for <!subteam^SAZ94GDB8|@security>: see <https://evil.example/x|https://console.aws.amazon.com> & tell @here @Everyone".into();
        a.actor = Some("<!here|here> eve\n*Severity*\ninfo".into());
        a.event_name = Some("<https://evil.example|ConsoleLogin>".into());
        a.runbook = Some("<!everyone> call <tel:+15555550100|the lead>".into());
        a
    }

    #[test]
    fn slack_payload_shape() {
        insta::assert_json_snapshot!(payload(&alert()));
    }

    /// Regression: the fallback `text` (what notifications show) was sent unescaped, so a
    /// message with `<!channel>` from an event pinged the whole channel.
    #[test]
    fn slack_fallback_text_is_escaped() {
        let p = payload(&hostile());
        let text = p["text"].as_str().expect("text");
        assert!(!text.contains(['<', '>']), "{text}");
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(text.contains("&lt;@U024BE7LH&gt;"), "{text}");
    }

    /// Regression: mentions and disguised links written by whoever wrote the event reach
    /// no one and hide nothing, in any part of the message.
    #[test]
    fn event_fields_cannot_ping_or_disguise_links() {
        let p = payload(&hostile());
        let mut all = Vec::new();
        strings(&p, "", &mut all);
        for (key, s) in all {
            for bad in [
                "<!",
                "<@",
                "<#",
                "<https://evil",
                "<tel:",
                "@here",
                "@Everyone",
                "@everyone",
                "@channel",
            ] {
                assert!(!s.contains(bad), "{bad} in {key}: {s}");
            }
            // Only Patrol's own reference links are links.
            if s.contains('<') {
                assert!(
                    s.starts_with("*References:* <https://attack.mitre.org/"),
                    "{key}: {s}"
                );
            }
        }
        let blocks = p["blocks"].to_string();
        assert!(blocks.contains("@\u{2060}here"), "{blocks}");
        // A fact from the event never starts a line of its own (a forged field).
        assert!(!blocks.contains("\\n*Severity*\\ninfo"), "{blocks}");
    }

    /// Regression: Slack auto-links URLs, channel names and some mentions in mrkdwn text
    /// unless the text object is `verbatim`.
    #[test]
    fn mrkdwn_text_is_verbatim() {
        let mut objects = Vec::new();
        text_objects(&payload(&alert()), &mut objects);
        let mrkdwn: Vec<&Value> = objects.iter().filter(|o| o["type"] == "mrkdwn").collect();
        assert!(mrkdwn.len() >= 8, "{objects:?}");
        for o in mrkdwn {
            assert_eq!(o["verbatim"], true, "{o}");
        }
    }

    #[test]
    fn references_are_a_context_line_with_attack_links() {
        let p = payload(&alert());
        let context = p["blocks"]
            .as_array()
            .and_then(|b| b.last())
            .expect("context block");
        assert_eq!(context["type"], "context");
        assert_eq!(
            context["elements"][1]["text"],
            "*References:* <https://attack.mitre.org/techniques/T1078/004/|T1078.004> · CIS-AWS-1.7"
        );
    }

    /// A template that renders a huge event field: every part of the message within
    /// Slack's limits, and the message says it was cut.
    #[test]
    fn huge_template_output_is_cut_to_slacks_limits() {
        let a = huge_alert();
        assert!(a.message.len() > 600_000);
        let p = payload(&a);
        let text = p["text"].as_str().expect("text");
        assert!(text.chars().count() <= FALLBACK_CHARS.min(MAX_TEXT_CHARS));
        assert!(was_cut(text), "{text}");
        let blocks = p["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= MAX_BLOCKS);
        let mut objects = Vec::new();
        text_objects(&p, &mut objects);
        for o in &objects {
            let t = o["text"].as_str().expect("text");
            assert!(t.chars().count() <= SECTION_CHARS, "{}", t.len());
        }
        assert!(
            blocks[0]["text"]["text"]
                .as_str()
                .is_some_and(|t| t.chars().count() <= HEADER_CHARS)
        );
        let fields = blocks[2]["fields"].as_array().expect("fields");
        assert!(fields.len() <= MAX_FIELDS);
        for f in fields {
            assert!(
                f["text"]
                    .as_str()
                    .is_some_and(|t| t.chars().count() <= FIELD_CHARS)
            );
        }
        let message = blocks[1]["text"]["text"].as_str().expect("message");
        assert!(
            message.starts_with("&lt;!channel&gt; &lt;x&gt; &amp; y"),
            "{}",
            &message[..40]
        );
        let kept = message.split("… (truncated: ").next().unwrap_or_default();
        // Cut before escaping: no entity is split.
        assert!(
            kept.ends_with(['>', '<', '&', 'x', 'y', ' ', ';']),
            "{kept}"
        );
        let lost: usize = message
            .rsplit("(truncated: ")
            .next()
            .and_then(|n| n.trim_end_matches(" bytes)").parse().ok())
            .expect("note");
        assert!(lost > 590_000, "{lost}");
    }

    #[test]
    fn text_only_runbooks_become_a_field() {
        let mut a = alert();
        a.runbook = Some("Call the on-call lead".into());
        a.console_url = None;
        let p = payload(&a);
        let blocks = p["blocks"].as_array().expect("blocks");
        assert!(blocks.iter().all(|b| b["type"] != "actions"));
        assert!(p.to_string().contains("*Runbook*\\nCall the on-call lead"));
    }
}
