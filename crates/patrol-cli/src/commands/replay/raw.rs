//! The fast path for the usual input, a CloudTrail file `{"Records": [...]}` read whole.
//! Each record is read in one serde_json pass that checks all of it but keeps only a few
//! top-level fields, borrowed from the text ([`Head`]: those EventBridge's wrapping takes,
//! the ones whose absence is reported, and the ones the engine's head index takes), and
//! finds where the record ends. Replay then asks the engine's head index whether any rule
//! may match; most records are done there. The others are wrapped as EventBridge wraps
//! them, straight into text ([`Head::wrap_into`]), the engine's patterns run on that text,
//! and only a record some pattern matches is built as a `Value` for the engine. Building
//! every record was most of a replay's time.
//!
//! The results are the general path's exactly (tests compare both over the fixture
//! archive, the corpus and records with odd head fields): anything unusual (another
//! document shape, a record that is not an object or repeats a field the head reads, an
//! EventBridge event, text that is not JSON or not UTF-8) sends the whole document the
//! general way, which also reports what is wrong.

use std::borrow::Cow;

use std::fmt;

use patrol_core::event::{EventError, detail_type_for};
use patrol_core::pattern::HeadValue;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One record of a document: the fields replay reads, and the record's JSON text.
#[derive(Debug)]
pub struct RawRecord<'a> {
    pub head: Head<'a>,
    pub json: &'a str,
}

/// The records of `doc` when it is valid JSON of exactly the shape
/// `{"Records": [ {…}, … ]}` with every record an object the fast path can read; `None`
/// sends the whole document the general way.
pub fn records(doc: &[u8]) -> Option<Vec<RawRecord<'_>>> {
    // serde_json checks UTF-8 only in the strings it keeps: the whole text first (with
    // SIMD: about three times as fast as the standard library's check).
    let text = simdutf8::basic::from_utf8(doc).ok()?;
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
            // An array would fill `Head` by position: only objects take this path.
            if doc.get(pos) != Some(&b'{') {
                return None;
            }
            // One pass checks the whole record and reads its head.
            let mut values =
                serde_json::Deserializer::from_str(text.get(pos..)?).into_iter::<Head<'_>>();
            let head = values.next()?.ok()?;
            let end = pos + values.byte_offset();
            if head.eventbridge {
                return None;
            }
            out.push(RawRecord {
                head,
                json: text.get(pos..end)?,
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

/// A record's top-level fields that replay reads.
#[derive(Debug, Default)]
pub struct Head<'a> {
    pub event_type: Field<'a>,
    pub event_source: Field<'a>,
    pub event_time: Field<'a>,
    pub event_id: Field<'a>,
    pub event_name: Field<'a>,
    pub error_code: Field<'a>,
    pub aws_region: Field<'a>,
    pub recipient_account_id: Field<'a>,
    pub user_identity: Identity<'a>,
    /// Both `detail-type` and `detail`: an EventBridge event, read whole.
    eventbridge: bool,
    /// A top-level name `userIdentity.type`, which patterns cannot tell from
    /// `userIdentity`'s `type`.
    dotted_identity_type: bool,
}

/// A field's value as far as replay cares: absent, a string, or something else.
#[derive(Debug, Default)]
pub enum Field<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Other,
}

/// `userIdentity`: only its `accountId` and `type` are read (the last of each, as a
/// `Value` keeps).
#[derive(Debug, Default)]
pub enum Identity<'a> {
    #[default]
    Absent,
    Object {
        account_id: Field<'a>,
        /// `type`.
        kind: Field<'a>,
    },
    Other,
}

impl<'a> Field<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Absent | Field::Other => None,
        }
    }

    /// What an event wrapping this record has at the field's path.
    fn head(&self) -> HeadValue<'_> {
        match self {
            Field::Absent => HeadValue::Absent,
            Field::Str(s) => HeadValue::Str(s),
            Field::Other => HeadValue::Unknown,
        }
    }

    /// The string, and whether it can go into JSON text as it is: one serde_json
    /// borrowed from the text had no escape there, so it holds no quote, backslash or
    /// control character.
    fn text(&self) -> Option<(&str, bool)> {
        match self {
            Field::Str(Cow::Borrowed(s)) => Some((s, true)),
            Field::Str(Cow::Owned(s)) => Some((s, false)),
            Field::Absent | Field::Other => None,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }
}

impl<'a> Head<'a> {
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

    /// The wrapped event's `detail-type`, or why the record cannot be wrapped (no
    /// `eventSource`, an unknown `eventType`), as `wrap_cloudtrail_record` says it.
    pub fn detail_type(&self) -> Result<&'static str, EventError> {
        if self.event_source.is_absent() {
            return Err(EventError::Unrecognized);
        }
        let event_type = self.event_type.as_str().unwrap_or("AwsApiCall");
        detail_type_for(event_type)
            .ok_or_else(|| EventError::UnknownEventType(event_type.to_owned()))
    }

    /// The wrapped event's values at `patrol_core::engine::HEAD_PATHS`, given its
    /// `source`.
    pub fn values<'s>(&'s self, source: &'s str) -> [HeadValue<'s>; 4] {
        let kind = match &self.user_identity {
            _ if self.dotted_identity_type => HeadValue::Unknown,
            Identity::Absent => HeadValue::Absent,
            Identity::Object { kind, .. } => kind.head(),
            Identity::Other => HeadValue::Unknown,
        };
        [
            self.event_name.head(),
            HeadValue::Str(source),
            self.error_code.head(),
            kind,
        ]
    }

    /// The wrapped event's `source` (`aws.` and the service) into `out`.
    pub fn source_into(&self, out: &mut String) {
        let source = self.event_source.as_str().unwrap_or("");
        out.clear();
        out.push_str("aws.");
        out.push_str(source.split('.').next().unwrap_or(source));
    }

    /// Writes the EventBridge event that wraps `record` (whose head this is, whose
    /// `detail-type` is [`Head::detail_type`] and whose `source` [`Head::source_into`]
    /// wrote) into `out`, as `patrol_core::event::wrap_cloudtrail_record` builds it.
    pub fn wrap_into(&self, detail_type: &str, source: &str, record: &str, out: &mut String) {
        let account = self
            .recipient_account_id
            .text()
            .or(match &self.user_identity {
                Identity::Object { account_id, .. } => account_id.text(),
                Identity::Absent | Identity::Other => None,
            })
            .unwrap_or(("", true));
        out.clear();
        out.reserve(record.len() + 256);
        out.push_str(r#"{"version":"0","id":""#);
        put(out, self.event_id.text().unwrap_or(("", true)));
        out.push_str(r#"","detail-type":""#);
        out.push_str(detail_type);
        out.push_str(r#"","source":""#);
        put(out, (source, false));
        out.push_str(r#"","account":""#);
        put(out, account);
        out.push_str(r#"","time":""#);
        put(out, self.event_time.text().unwrap_or(("", true)));
        out.push_str(r#"","region":""#);
        put(out, self.aws_region.text().unwrap_or(("", true)));
        out.push_str(r#"","resources":[],"detail":"#);
        out.push_str(record);
        out.push('}');
    }
}

// Reading a record's head with serde: every value is checked, only the head's kept.

/// The top-level names [`Head`] reads, matched without allocating.
enum TopKey {
    EventType,
    EventSource,
    EventTime,
    EventId,
    EventName,
    ErrorCode,
    AwsRegion,
    RecipientAccountId,
    UserIdentity,
    DetailType,
    Detail,
    DottedIdentityType,
    Other,
}

impl<'de> Deserialize<'de> for TopKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<TopKey, E> {
                Ok(match v {
                    "eventType" => TopKey::EventType,
                    "eventSource" => TopKey::EventSource,
                    "eventTime" => TopKey::EventTime,
                    "eventID" => TopKey::EventId,
                    "eventName" => TopKey::EventName,
                    "errorCode" => TopKey::ErrorCode,
                    "userIdentity.type" => TopKey::DottedIdentityType,
                    "awsRegion" => TopKey::AwsRegion,
                    "recipientAccountId" => TopKey::RecipientAccountId,
                    "userIdentity" => TopKey::UserIdentity,
                    "detail-type" => TopKey::DetailType,
                    "detail" => TopKey::Detail,
                    _ => TopKey::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A repeated field the head reads: the general path (a `Value` keeps the last) decides.
fn duplicate<E: serde::de::Error>(name: &str) -> E {
    E::custom(format_args!("duplicate field `{name}`"))
}

impl<'de: 'a, 'a> Deserialize<'de> for Head<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Head<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a CloudTrail record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head<'de>, A::Error> {
                let mut head = Head::default();
                let (mut detail_type, mut detail) = (false, false);
                while let Some(name) = map.next_key::<TopKey>()? {
                    let (slot, key) = match name {
                        TopKey::EventType => (&mut head.event_type, "eventType"),
                        TopKey::EventSource => (&mut head.event_source, "eventSource"),
                        TopKey::EventTime => (&mut head.event_time, "eventTime"),
                        TopKey::EventId => (&mut head.event_id, "eventID"),
                        TopKey::EventName => (&mut head.event_name, "eventName"),
                        TopKey::ErrorCode => (&mut head.error_code, "errorCode"),
                        TopKey::AwsRegion => (&mut head.aws_region, "awsRegion"),
                        TopKey::RecipientAccountId => {
                            (&mut head.recipient_account_id, "recipientAccountId")
                        }
                        TopKey::UserIdentity => {
                            if !matches!(head.user_identity, Identity::Absent) {
                                return Err(duplicate("userIdentity"));
                            }
                            head.user_identity = map.next_value()?;
                            continue;
                        }
                        TopKey::DetailType
                        | TopKey::Detail
                        | TopKey::DottedIdentityType
                        | TopKey::Other => {
                            detail_type |= matches!(name, TopKey::DetailType);
                            detail |= matches!(name, TopKey::Detail);
                            head.dotted_identity_type |= matches!(name, TopKey::DottedIdentityType);
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if !slot.is_absent() {
                        return Err(duplicate(key));
                    }
                    *slot = map.next_value()?;
                }
                head.eventbridge = detail_type && detail;
                Ok(head)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

/// A value as a [`Field`]: strings kept (borrowed unless escaped), the rest checked.
struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_unit<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_none<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Identity<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdentityVisitor)
    }
}

/// `userIdentity`: an object's `accountId` (the last one, as a `Value` keeps), or another
/// value, checked.
struct IdentityVisitor;

impl<'de> Visitor<'de> for IdentityVisitor {
    type Value = Identity<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Identity<'de>, A::Error> {
        let (mut account_id, mut kind) = (Field::Absent, Field::Absent);
        while let Some(key) = map.next_key::<IdentityKey>()? {
            match key {
                IdentityKey::AccountId => account_id = map.next_value()?,
                IdentityKey::Type => kind = map.next_value()?,
                IdentityKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Identity::Object { account_id, kind })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Identity<'de>, A::Error> {
        FieldVisitor.visit_seq(seq).map(|_| Identity::Other)
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
    fn visit_unit<E>(self) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
    fn visit_none<E>(self) -> Result<Identity<'de>, E> {
        Ok(Identity::Other)
    }
}

/// The `userIdentity` keys the head reads, matched without allocating.
enum IdentityKey {
    AccountId,
    Type,
    Other,
}

impl<'de> Deserialize<'de> for IdentityKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IdentityKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, v: &str) -> Result<IdentityKey, E> {
                Ok(match v {
                    "accountId" => IdentityKey::AccountId,
                    "type" => IdentityKey::Type,
                    _ => IdentityKey::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A head string as JSON string text (without the quotes).
fn put(out: &mut String, (s, plain): (&str, bool)) {
    if plain || s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
        out.push_str(s);
    } else {
        let quoted = serde_json::to_string(s).unwrap_or_default();
        out.push_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(""));
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
            matches!(&h.user_identity, Identity::Object { account_id, .. } if account_id.as_str() == Some("2"))
        );
        assert!(r[0].json.starts_with("{\"eventSource\"") && r[0].json.ends_with("null}"));
        let h = &r[1].head;
        assert_eq!(h.event_type.as_str(), Some("AwsApiCall"));
        assert!(matches!(h.user_identity, Identity::Other));
        assert_eq!(h.missing(), vec!["eventTime"]);
        assert!(r[1].json.ends_with("-1.5e3}"));
        assert_eq!(records(br#"{"Records":[]}"#).map(|r| r.len()), Some(0));
        // Names are compared unescaped, as a `Value` compares them.
        let r = records(
            br#"{"Records": [{"event\u0053ource": "a", "userIdentity": {"account\u0049d": "1"}}]}"#,
        )
        .expect("fast path");
        assert_eq!(r[0].head.event_source.as_str(), Some("a"));
        assert!(
            matches!(&r[0].head.user_identity, Identity::Object { account_id, .. } if account_id.as_str() == Some("1"))
        );
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
        let mut buf = String::new();
        for record in &all {
            let doc = format!(r#"{{"Records": [{record}]}}"#);
            let Some(raw) = records(doc.as_bytes()) else {
                panic!("fast path refused {record}");
            };
            let value: Value = serde_json::from_str(record).expect("JSON");
            let expected = patrol_core::event::to_eventbridge(value);
            let mut source = String::new();
            raw[0].head.source_into(&mut source);
            let wrapped = raw[0]
                .head
                .detail_type()
                .map(|dt| raw[0].head.wrap_into(dt, &source, raw[0].json, &mut buf));
            match (wrapped, expected) {
                (Ok(()), Ok(want)) => {
                    let got: Value = serde_json::from_str(&buf).expect("wrapped JSON");
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
