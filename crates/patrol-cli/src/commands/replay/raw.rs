//! The fast path for the usual input, a CloudTrail file `{"Records": [...]}` read whole.
//! The document is checked once (serde_json, without building anything); then each record
//! is cut out of the text with the pattern reader's skipping ([`skip`]) and only the few
//! top-level fields replay needs are read ([`Head`]: those EventBridge's wrapping takes,
//! and the ones whose absence is reported). The record is wrapped as EventBridge wraps it
//! straight into text ([`Head::wrap_into`]), the engine's patterns run on that text, and
//! only a record some pattern matches is built as a `Value` for the engine, which most
//! records are not. Building every record was most of a replay's time.
//!
//! The results are the general path's exactly (tests compare both over the corpus):
//! anything unusual (another document shape, a repeated or escaped field name that the
//! head reads, an EventBridge event) sends the whole document the general way, which
//! also reports what is wrong.

use std::borrow::Cow;

use patrol_core::event::{EventError, detail_type_for};
use patrol_core::pattern::skip;
use serde::de::IgnoredAny;

/// One record of a document: the fields replay reads, and the record's JSON text.
#[derive(Debug)]
pub struct RawRecord<'a> {
    pub head: Head<'a>,
    pub json: &'a [u8],
}

/// The records of `doc` when it is valid JSON of exactly the shape
/// `{"Records": [ {…}, … ]}` with every record an object the fast path can read; `None`
/// sends the whole document the general way.
pub fn records(doc: &[u8]) -> Option<Vec<RawRecord<'_>>> {
    // Everything below relies on valid JSON; this is also what reports a broken record
    // (through the general path) even inside parts no pattern reads.
    // (serde_json checks UTF-8 only in the strings it keeps, so that comes first.)
    let text = std::str::from_utf8(doc).ok()?;
    serde_json::from_str::<IgnoredAny>(text).ok()?;
    let mut pos = skip_ws(doc, 0);
    let tokens: [&[u8]; 4] = [b"{", b"\"Records\"", b":", b"["];
    for token in tokens {
        pos = skip_ws(doc, expect(doc, pos, token)?);
    }
    let mut out = Vec::new();
    if doc.get(pos) == Some(&b']') {
        pos += 1;
    } else {
        loop {
            // An array or a scalar is not a record the head can be read from.
            if doc.get(pos) != Some(&b'{') {
                return None;
            }
            // Reading the head walks the record's members, which finds its end too.
            let (head, end) = Head::read(doc, pos)?;
            out.push(RawRecord {
                head,
                json: doc.get(pos..end)?,
            });
            pos = skip_ws(doc, end);
            match doc.get(pos) {
                Some(b',') => pos = skip_ws(doc, pos + 1),
                Some(b']') => {
                    pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    pos = skip_ws(doc, expect(doc, skip_ws(doc, pos), b"}")?);
    (pos == doc.len()).then_some(out)
}

fn skip_ws(doc: &[u8], mut pos: usize) -> usize {
    while doc
        .get(pos)
        .is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
        pos += 1;
    }
    pos
}

fn expect(doc: &[u8], pos: usize, token: &[u8]) -> Option<usize> {
    doc.get(pos..)?
        .starts_with(token)
        .then_some(pos + token.len())
}

/// Just past the value that starts at `at` (valid JSON).
fn value_end(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at)? {
        b'"' => skip::string_end(b, at),
        b'{' | b'[' => skip::container_end(b, at),
        _ => {
            let mut i = at;
            while b
                .get(i)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

/// The members of the object at `at` in `b` (valid JSON): each name's raw text (between
/// the quotes) and its value's text, in order; then the position just past the object.
/// `None` stops at the first name with an escape, which only the general path can
/// compare.
fn members<'a>(
    b: &'a [u8],
    at: usize,
    each: &mut dyn FnMut(&'a [u8], &'a [u8]) -> Option<()>,
) -> Option<usize> {
    let mut pos = skip_ws(b, expect(b, at, b"{")?);
    if b.get(pos) == Some(&b'}') {
        return Some(pos + 1);
    }
    loop {
        let name_end = skip::string_end(b, pos)?;
        let name = b.get(pos + 1..name_end - 1)?;
        if name.contains(&b'\\') {
            return None;
        }
        pos = skip_ws(b, expect(b, skip_ws(b, name_end), b":")?);
        let end = value_end(b, pos)?;
        each(name, b.get(pos..end)?)?;
        pos = skip_ws(b, end);
        match b.get(pos)? {
            b',' => pos = skip_ws(b, pos + 1),
            b'}' => return Some(pos + 1),
            _ => return None,
        }
    }
}

/// A record's top-level fields that replay reads.
#[derive(Debug, Default)]
pub struct Head<'a> {
    pub event_type: Field<'a>,
    pub event_source: Field<'a>,
    pub event_time: Field<'a>,
    pub event_id: Field<'a>,
    pub aws_region: Field<'a>,
    pub recipient_account_id: Field<'a>,
    pub user_identity: Identity<'a>,
}

/// A field's value as far as replay cares: absent, a string, or something else.
#[derive(Debug, Default)]
pub enum Field<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Other,
}

/// `userIdentity`: only its `accountId` is read (the last one, as a `Value` keeps).
#[derive(Debug, Default)]
pub enum Identity<'a> {
    #[default]
    Absent,
    Object {
        account_id: Field<'a>,
    },
    Other,
}

impl<'a> Field<'a> {
    /// From a value's text (valid JSON).
    fn read(raw: &'a [u8]) -> Option<Field<'a>> {
        if raw.first() != Some(&b'"') {
            return Some(Field::Other);
        }
        let inner = raw.get(1..raw.len() - 1)?;
        Some(Field::Str(if inner.contains(&b'\\') {
            Cow::Owned(serde_json::from_slice::<String>(raw).ok()?)
        } else {
            Cow::Borrowed(std::str::from_utf8(inner).ok()?)
        }))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Absent | Field::Other => None,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }
}

impl<'a> Head<'a> {
    /// The head of the record at `at` in `doc` (valid JSON, an object), and where the
    /// record ends; `None` for a record that repeats a field the head reads (a `Value`
    /// keeps the last, the general path's concern), names one with an escape, or is an
    /// EventBridge event (`detail-type` and `detail`), which is read whole.
    fn read(doc: &'a [u8], at: usize) -> Option<(Head<'a>, usize)> {
        let mut head = Head::default();
        let (mut detail_type, mut detail) = (false, false);
        let end = members(doc, at, &mut |name, value| {
            let slot = match name {
                b"eventType" => &mut head.event_type,
                b"eventSource" => &mut head.event_source,
                b"eventTime" => &mut head.event_time,
                b"eventID" => &mut head.event_id,
                b"awsRegion" => &mut head.aws_region,
                b"recipientAccountId" => &mut head.recipient_account_id,
                b"userIdentity" => {
                    if !matches!(head.user_identity, Identity::Absent) {
                        return None;
                    }
                    head.user_identity = Identity::read(value)?;
                    return Some(());
                }
                b"detail-type" => {
                    detail_type = true;
                    return Some(());
                }
                b"detail" => {
                    detail = true;
                    return Some(());
                }
                _ => return Some(()),
            };
            if !slot.is_absent() {
                return None;
            }
            *slot = Field::read(value)?;
            Some(())
        })?;
        (!(detail_type && detail)).then_some((head, end))
    }

    /// The record's `eventTime` as the wrapped event's `time` ("" when not a string).
    pub fn time(&self) -> &str {
        self.event_time.as_str().unwrap_or("")
    }

    /// The top-level fields replay reports when absent, besides `eventSource` (whose
    /// absence makes the record unreadable).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.event_time.is_absent() {
            out.push("eventTime");
        }
        if matches!(self.user_identity, Identity::Absent) {
            out.push("userIdentity");
        }
        out
    }

    /// Writes the EventBridge event that wraps `record` (whose head this is) into `out`,
    /// as `patrol_core::event::wrap_cloudtrail_record` builds it.
    pub fn wrap_into(&self, record: &[u8], out: &mut Vec<u8>) -> Result<(), EventError> {
        if self.event_source.is_absent() {
            return Err(EventError::Unrecognized);
        }
        let event_type = self.event_type.as_str().unwrap_or("AwsApiCall");
        let detail_type = detail_type_for(event_type)
            .ok_or_else(|| EventError::UnknownEventType(event_type.to_owned()))?;
        let service = self.event_source.as_str().unwrap_or("");
        let service = service.split('.').next().unwrap_or(service);
        let account = self
            .recipient_account_id
            .as_str()
            .or(match &self.user_identity {
                Identity::Object { account_id } => account_id.as_str(),
                Identity::Absent | Identity::Other => None,
            })
            .unwrap_or("");
        out.clear();
        out.reserve(record.len() + 256);
        out.extend_from_slice(br#"{"version":"0","id":"#);
        json_string(out, self.event_id.as_str().unwrap_or(""));
        out.extend_from_slice(br#","detail-type":"#);
        json_string(out, detail_type);
        out.extend_from_slice(br#","source":"aws."#);
        json_body(out, service);
        out.push(b'"');
        out.extend_from_slice(br#","account":"#);
        json_string(out, account);
        out.extend_from_slice(br#","time":"#);
        json_string(out, self.time());
        out.extend_from_slice(br#","region":"#);
        json_string(out, self.aws_region.as_str().unwrap_or(""));
        out.extend_from_slice(br#","resources":[],"detail":"#);
        out.extend_from_slice(record);
        out.push(b'}');
        Ok(())
    }
}

impl<'a> Identity<'a> {
    fn read(raw: &'a [u8]) -> Option<Identity<'a>> {
        if raw.first() != Some(&b'{') {
            return Some(Identity::Other);
        }
        let mut account_id = Field::Absent;
        members(raw, 0, &mut |name, value| {
            if name == b"accountId" {
                account_id = Field::read(value)?;
            }
            Some(())
        })?;
        Some(Identity::Object { account_id })
    }
}

/// `s` as a JSON string.
fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    json_body(out, s);
    out.push(b'"');
}

/// `s` as the text between a JSON string's quotes.
fn json_body(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
        out.extend_from_slice(s.as_bytes());
    } else {
        let quoted = serde_json::to_string(s).unwrap_or_default();
        out.extend_from_slice(
            quoted
                .get(1..quoted.len().saturating_sub(1))
                .unwrap_or("")
                .as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn reads_the_head_and_cuts_out_each_record() {
        let doc = r#" { "Records" : [ {"eventSource": "s3.amazonaws.com", "x": [1, {"y": "]}\"{"}], "userIdentity": {"type": "Root", "accountId": "1", "accountId": "2"}, "eventTime": null},
            {"eventType": "Aws\u0041piCall", "userIdentity": "odd", "n": -1.5e3} ] } "#;
        let r = records(doc.as_bytes()).expect("fast path");
        assert_eq!(r.len(), 2);
        let h = &r[0].head;
        assert_eq!(h.event_source.as_str(), Some("s3.amazonaws.com"));
        assert!(matches!(h.event_time, Field::Other));
        assert!(h.event_type.is_absent());
        assert!(
            matches!(&h.user_identity, Identity::Object { account_id } if account_id.as_str() == Some("2"))
        );
        assert!(r[0].json.starts_with(b"{\"eventSource\"") && r[0].json.ends_with(b"null}"));
        let h = &r[1].head;
        assert_eq!(h.event_type.as_str(), Some("AwsApiCall"));
        assert!(matches!(h.user_identity, Identity::Other));
        assert_eq!(h.missing(), vec!["eventTime"]);
        assert!(r[1].json.ends_with(b"-1.5e3}"));
        assert_eq!(records(br#"{"Records":[]}"#).map(|r| r.len()), Some(0));
    }

    #[test]
    fn anything_unusual_goes_the_general_way() {
        for doc in [
            r#"{"Records": [{"a": 1}], "more": 1}"#,
            r#"{"other": 1, "Records": [{"a": 1}]}"#,
            r#"{"Records": [{"a": 1}, 3]}"#,
            r#"{"Records": [["eventType"]]}"#,
            r#"{"Records": [{"eventSource": "a", "eventSource": "b"}]}"#,
            r#"{"Records": [{"userIdentity": {}, "userIdentity": {}}]}"#,
            r#"{"Records": [{"event\u0053ource": "a"}]}"#,
            r#"{"Records": [{"userIdentity": {"account\u0049d": "1"}}]}"#,
            r#"{"Records": [{"detail-type": "x", "detail": {}}]}"#,
            r#"{"Records": [{"a": 1}"#,
            r#"{"Records": [{"a": tru}]}"#,
            // Broken where no pattern and no head field looks: still not the fast path.
            r#"{"Records": [{"eventSource": "a", "deep": {"x": [1, 2,]}}]}"#,
            "{\"Records\": [{\"eventSource\": \"a\", \"deep\": \"\u{1}\"}]}",
            r#"[{"a": 1}]"#,
        ] {
            assert!(records(doc.as_bytes()).is_none(), "{doc}");
        }
        let not_utf8 = b"{\"Records\": [{\"eventSource\": \"a\", \"deep\": [\"\xff\"]}]}";
        assert!(records(not_utf8).is_none());
    }

    /// The text [`Head::wrap_into`] writes is what `wrap_cloudtrail_record` builds, for
    /// every record of the corpus and for odd ones.
    #[test]
    fn wrapping_the_text_equals_wrapping_the_value() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/cloudtrail-records.jsonl");
        // The shared corpus when it is there (as in the other corpus tests).
        let text = std::fs::read_to_string(&corpus).unwrap_or_default();
        let mut all: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        all.extend(
            [
                r#"{"eventSource": "iam.amazonaws.com"}"#,
                r#"{"eventSource": 3, "eventType": 4, "recipientAccountId": 5, "userIdentity": {"accountId": "9"}}"#,
                r#"{"eventSource": "we\"ird\\.x", "eventID": "a\u0000b", "awsRegion": "é", "eventTime": "2024-01-01T00:00:00Z"}"#,
                r#"{"eventSource": "x", "eventType": "AwsConsoleSignIn", "recipientAccountId": "1", "userIdentity": {"accountId": "2"}}"#,
                r#"{"eventSource": "x", "eventType": "Nope"}"#,
                r#"{"eventType": "AwsApiCall"}"#,
            ]
            .map(str::to_owned),
        );
        let mut buf = Vec::new();
        for record in &all {
            let doc = format!(r#"{{"Records": [{record}]}}"#);
            let Some(raw) = records(doc.as_bytes()) else {
                panic!("fast path refused {record}");
            };
            let value: Value = serde_json::from_str(record).expect("JSON");
            let expected = patrol_core::event::to_eventbridge(value);
            match (raw[0].head.wrap_into(raw[0].json, &mut buf), expected) {
                (Ok(()), Ok(want)) => {
                    let got: Value = serde_json::from_slice(&buf).expect("wrapped JSON");
                    assert_eq!(got, want, "{record}");
                }
                (Err(got), Err(want)) => assert_eq!(got, want, "{record}"),
                (got, want) => panic!("{record}: {got:?} vs {want:?}"),
            }
        }
        assert!(
            !corpus.is_file() || all.len() > 3000,
            "the corpus was not read"
        );
    }
}
