//! The fast path for the usual input, a CloudTrail file `{"Records": [...]}` read whole:
//! each record is checked and cut out of the text without being built, only the few fields
//! replay itself needs are read ([`Head`]: those EventBridge's wrapping takes, and the ones
//! whose absence is reported), and the record is built as a `Value` for the engine only
//! when some rule's pattern matches its raw JSON ([`Prefilter`]), which most records do
//! not. Building every record was most of a replay's time.
//!
//! The results are the general path's exactly: the prefilter runs the engine's own
//! patterns, so a record it drops is one no rule would have been delivered. Anything
//! unusual (another document shape, a duplicate or non-string field, an EventBridge
//! event) goes the general way, which also reports what is wrong.

use std::borrow::Cow;
use std::fmt;

use patrol_core::manifest::{Manifest, Trigger};
use patrol_core::pattern::{Matcher, Pattern};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// One record of a document: the fields replay reads, as a small object with the
/// record's own values (non-strings as `null`), and the record's JSON text.
#[derive(Debug)]
pub struct RawRecord<'a> {
    pub head: Value,
    pub json: &'a [u8],
}

/// The records of `doc` when it is exactly `{"Records": [ {…}, … ]}` with every record an
/// object the fast path can read; `None` sends the whole document the general way.
pub fn records(doc: &[u8]) -> Option<Vec<RawRecord<'_>>> {
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
            let rest = doc.get(pos..)?;
            // An array would fill `Head` by position: only objects take this path.
            if rest.first() != Some(&b'{') {
                return None;
            }
            let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<Head>();
            let head = values.next()?.ok()?;
            let end = pos + values.byte_offset();
            out.push(RawRecord {
                head: head.into_value()?,
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

/// A record's top-level fields that replay reads; the others are checked and skipped.
/// A duplicate field fails it (and sends the document the general way).
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "eventType", default, borrow)]
    event_type: Field<'a>,
    #[serde(rename = "eventSource", default, borrow)]
    event_source: Field<'a>,
    #[serde(rename = "eventTime", default, borrow)]
    event_time: Field<'a>,
    #[serde(rename = "eventID", default, borrow)]
    event_id: Field<'a>,
    #[serde(rename = "awsRegion", default, borrow)]
    aws_region: Field<'a>,
    #[serde(rename = "recipientAccountId", default, borrow)]
    recipient_account_id: Field<'a>,
    #[serde(rename = "userIdentity", default, borrow)]
    user_identity: Identity<'a>,
    #[serde(rename = "detail-type", default, borrow)]
    detail_type: Field<'a>,
    #[serde(default, borrow)]
    detail: Field<'a>,
}

impl Head<'_> {
    /// `None` for an EventBridge event: those are read whole.
    fn into_value(self) -> Option<Value> {
        if !matches!(self.detail_type, Field::Absent) && !matches!(self.detail, Field::Absent) {
            return None;
        }
        let mut m = Map::new();
        for (key, field) in [
            ("eventType", self.event_type),
            ("eventSource", self.event_source),
            ("eventTime", self.event_time),
            ("eventID", self.event_id),
            ("awsRegion", self.aws_region),
            ("recipientAccountId", self.recipient_account_id),
        ] {
            if let Some(v) = field.into_value() {
                m.insert(key.to_owned(), v);
            }
        }
        match self.user_identity {
            Identity::Absent => {}
            Identity::Other => {
                m.insert("userIdentity".to_owned(), Value::Null);
            }
            Identity::Object { account_id } => {
                let mut who = Map::new();
                if let Some(v) = account_id.into_value() {
                    who.insert("accountId".to_owned(), v);
                }
                m.insert("userIdentity".to_owned(), Value::Object(who));
            }
        }
        Some(Value::Object(m))
    }
}

/// A field's value as far as replay cares: absent, a string, or something else.
#[derive(Default)]
enum Field<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Other,
}

impl Field<'_> {
    fn into_value(self) -> Option<Value> {
        match self {
            Field::Absent => None,
            Field::Str(s) => Some(Value::String(s.into_owned())),
            Field::Other => Some(Value::Null),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

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

/// `userIdentity`: only its `accountId` is read (the last one, as a `Value` keeps).
#[derive(Default)]
enum Identity<'a> {
    #[default]
    Absent,
    Object {
        account_id: Field<'a>,
    },
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Identity<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdentityVisitor)
    }
}

struct IdentityVisitor;

impl<'de> Visitor<'de> for IdentityVisitor {
    type Value = Identity<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Identity<'de>, A::Error> {
        let mut account_id = Field::Absent;
        while let Some(key) = map.next_key::<Key>()? {
            if key.0 {
                account_id = map.next_value()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Identity::Object { account_id })
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

/// Whether an object key is `accountId`, without allocating it.
struct Key(bool);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v == "accountId"))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The rules' patterns compiled as the engine compiles them, run on raw JSON.
#[derive(Debug)]
pub struct Prefilter {
    matcher: Matcher,
}

impl Prefilter {
    pub fn new(manifest: &Manifest) -> anyhow::Result<Prefilter> {
        let mut patterns = Vec::new();
        for rule in &manifest.rules {
            if let Trigger::Event { pattern, .. } = &rule.trigger {
                patterns.push(
                    Pattern::parse(pattern).map_err(|e| anyhow::anyhow!("{}: {e}", rule.id))?,
                );
            }
        }
        Ok(Prefilter {
            matcher: Matcher::new(&patterns),
        })
    }

    /// Whether some pattern matches the EventBridge event `wrapper` (made from a record's
    /// head) once `record` is its `detail`; when unsure, yes.
    pub fn may_match(&self, wrapper: &Value, record: &[u8]) -> bool {
        thread_local! {
            /// The wrapped event's text, kept between records.
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut json) => self.may_match_in(wrapper, record, &mut json),
            Err(_) => self.may_match_in(wrapper, record, &mut Vec::new()),
        })
    }

    fn may_match_in(&self, wrapper: &Value, record: &[u8], json: &mut Vec<u8>) -> bool {
        json.clear();
        json.reserve(record.len() + 256);
        json.push(b'{');
        if let Value::Object(m) = wrapper {
            for (k, v) in m.iter().filter(|(k, _)| *k != "detail") {
                if serde_json::to_writer(&mut *json, k).is_err() {
                    return true;
                }
                json.push(b':');
                if serde_json::to_writer(&mut *json, v).is_err() {
                    return true;
                }
                json.push(b',');
            }
        }
        json.extend_from_slice(b"\"detail\":");
        json.extend_from_slice(record);
        json.push(b'}');
        self.matcher
            .matches_json(json)
            .map_or(true, |m| !m.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(doc: &str) -> Option<Vec<String>> {
        records(doc.as_bytes()).map(|r| r.iter().map(|r| r.head.to_string()).collect())
    }

    #[test]
    fn reads_the_head_and_cuts_out_each_record() {
        let doc = r#" { "Records" : [ {"eventSource": "s3.amazonaws.com", "x": [1, {"y": 2}], "userIdentity": {"type": "Root", "accountId": "1"}, "eventTime": null},
            {"eventType": "AwsApiCall", "userIdentity": "odd"} ] } "#;
        let r = records(doc.as_bytes()).expect("fast path");
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].head.to_string(),
            r#"{"eventSource":"s3.amazonaws.com","eventTime":null,"userIdentity":{"accountId":"1"}}"#
        );
        assert!(r[0].json.starts_with(b"{\"eventSource\"") && r[0].json.ends_with(b"null}"));
        assert_eq!(
            r[1].head.to_string(),
            r#"{"eventType":"AwsApiCall","userIdentity":null}"#
        );
        assert_eq!(heads(r#"{"Records":[]}"#), Some(vec![]));
    }

    #[test]
    fn anything_unusual_goes_the_general_way() {
        for doc in [
            r#"{"Records": [{"a": 1}], "more": 1}"#,
            r#"{"other": 1, "Records": [{"a": 1}]}"#,
            r#"{"Records": [{"a": 1}, 3]}"#,
            r#"{"Records": [["eventType"]]}"#,
            r#"{"Records": [{"eventSource": "a", "eventSource": "b"}]}"#,
            r#"{"Records": [{"detail-type": "x", "detail": {}}]}"#,
            r#"{"Records": [{"a": 1}"#,
            r#"{"Records": [{"a": tru}]}"#,
            r#"[{"a": 1}]"#,
        ] {
            assert!(heads(doc).is_none(), "{doc}");
        }
    }
}
