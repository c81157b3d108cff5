//! One JSON document cut into its events as it streams by, holding at most one event at a
//! time, and never more than [`MAX_EVENT_BYTES`] of it: a CloudTrail file
//! `{"Records": [...]}` gives each record, an array each element, any other object is one
//! event. An event over the limit is skipped with a reason (EventBridge would never have
//! delivered it), whatever its size: its bytes are read past, not kept. A record that is
//! not JSON is reported and the next one read.
//!
//! Only the document's outline (brackets, strings, commas) is read here; each event's text
//! is parsed by serde_json, which checks it whole.

use std::io::BufRead;

use serde_json::Value;

use super::ReadEvent;

/// The largest event replayed: EventBridge's limit for one event (1 MiB since January
/// 2026; 256 KiB before).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Why a document could not be read to its end (after handing out what came before).
#[derive(Debug)]
pub enum SplitError {
    Io(std::io::Error),
    /// Not JSON, or not an object or array: the message says where.
    Syntax(String),
    /// The text ended inside the document.
    Truncated(String),
}

/// Reads one document from `input` and hands each event to `emit`; `Ok(false)` when
/// `input` held nothing but whitespace.
pub fn split(
    input: &mut dyn BufRead,
    limit: usize,
    emit: &mut dyn FnMut(ReadEvent),
) -> Result<bool, SplitError> {
    let mut s = Scanner {
        input,
        line: 1,
        column: 1,
        buf: Vec::new(),
    };
    let found = match s.skip_ws()? {
        None => return Ok(false),
        Some(b'[') => {
            s.bump();
            s.elements(limit, emit)?;
            true
        }
        Some(b'{') => {
            s.object(limit, emit)?;
            true
        }
        Some(b) if b == b'"' || b == b'-' || b.is_ascii_digit() || b"tfn".contains(&b) => {
            return Err(s.syntax("expected a JSON object or array"));
        }
        Some(_) => return Err(s.syntax("expected value")),
    };
    match s.skip_ws()? {
        None => Ok(found),
        Some(_) => Err(s.syntax("trailing characters")),
    }
}

/// Why an event of `size` bytes is skipped.
pub fn too_large(size: usize, limit: usize) -> String {
    format!(
        "{size} bytes, more than the {} an EventBridge event can be: skipped",
        if limit == MAX_EVENT_BYTES {
            "1 MiB".to_owned()
        } else {
            format!("{limit} bytes")
        }
    )
}

struct Scanner<'a> {
    input: &'a mut dyn BufRead,
    /// Where the next byte is, for messages (1-based, as serde_json counts).
    line: usize,
    column: usize,
    /// The event at hand.
    buf: Vec<u8>,
}

impl Scanner<'_> {
    fn syntax(&self, what: &str) -> SplitError {
        SplitError::Syntax(format!(
            "not JSON: {what} at line {} column {}",
            self.line, self.column
        ))
    }

    fn truncated(&self, what: &str) -> SplitError {
        SplitError::Truncated(format!(
            "truncated JSON: EOF while parsing {what} at line {} column {}",
            self.line, self.column
        ))
    }

    fn peek(&mut self) -> Result<Option<u8>, SplitError> {
        Ok(self
            .input
            .fill_buf()
            .map_err(SplitError::Io)?
            .first()
            .copied())
    }

    fn advance(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
    }

    fn bump(&mut self) {
        if let Ok(Some(b)) = self.peek() {
            self.advance(&[b]);
            self.input.consume(1);
        }
    }

    /// The next byte that is not whitespace (not consumed).
    fn skip_ws(&mut self) -> Result<Option<u8>, SplitError> {
        loop {
            let chunk = self.input.fill_buf().map_err(SplitError::Io)?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let ws = chunk
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            let next = chunk.get(ws).copied();
            let lines = chunk[..ws].iter().filter(|b| **b == b'\n').count();
            if lines > 0 {
                self.line += lines;
                self.column = ws - chunk[..ws].iter().rposition(|b| *b == b'\n').unwrap_or(0);
            } else {
                self.column += ws;
            }
            self.input.consume(ws);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Reads one value's text into `self.buf` while it is at most `limit` bytes; its size.
    fn value(&mut self, limit: usize) -> Result<usize, SplitError> {
        self.buf.clear();
        let first = self.peek()?.ok_or_else(|| self.truncated("a value"))?;
        let mut size = 0;
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        loop {
            let chunk = self.input.fill_buf().map_err(SplitError::Io)?;
            if chunk.is_empty() {
                if scalar && size > 0 {
                    return Ok(size);
                }
                return Err(self.truncated("a value"));
            }
            let mut end = None;
            for (i, &b) in chunk.iter().enumerate() {
                if scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        end = Some(i);
                        break;
                    }
                    continue;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let n = end.unwrap_or(chunk.len());
            if size + n <= limit {
                self.buf.extend_from_slice(&chunk[..n]);
            } else {
                self.buf = Vec::new();
            }
            size += n;
            let (lines, last_nl) = (
                chunk[..n].iter().filter(|b| **b == b'\n').count(),
                chunk[..n].iter().rposition(|b| *b == b'\n'),
            );
            match last_nl {
                Some(at) => {
                    self.line += lines;
                    self.column = n - at;
                }
                None => self.column += n,
            }
            self.input.consume(n);
            if end.is_some() {
                return Ok(size);
            }
        }
    }

    /// The event just read (in `self.buf`, `size` bytes), or why it is not one.
    fn event(&self, size: usize, limit: usize) -> ReadEvent {
        if size > limit {
            return Err(too_large(size, limit));
        }
        serde_json::from_slice::<Value>(&self.buf).map_err(|e| format!("not JSON: {e}"))
    }

    /// The elements of an array whose `[` was read, each an event.
    fn elements(
        &mut self,
        limit: usize,
        emit: &mut dyn FnMut(ReadEvent),
    ) -> Result<(), SplitError> {
        if self.skip_ws()? == Some(b']') {
            self.bump();
            return Ok(());
        }
        for n in 1.. {
            match self.skip_ws()? {
                None => return Err(self.truncated("a list")),
                Some(b']' | b',') => return Err(self.syntax("expected value")),
                Some(_) => {}
            }
            let size = self.value(limit)?;
            emit(
                self.event(size, limit)
                    .map_err(|e| format!("record {n}: {e}")),
            );
            match self.skip_ws()? {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return Ok(());
                }
                None => return Err(self.truncated("a list")),
                Some(_) => return Err(self.syntax("expected `,` or `]`")),
            }
        }
        Ok(())
    }

    /// An object at the top: its `Records`, or itself as one event.
    fn object(&mut self, limit: usize, emit: &mut dyn FnMut(ReadEvent)) -> Result<(), SplitError> {
        self.bump();
        // The object as one event, while it fits: `{`, then `key:value` pairs.
        let mut whole = b"{".to_vec();
        let mut whole_size = 1;
        let mut records = false;
        let mut first = true;
        loop {
            match self.skip_ws()? {
                Some(b'}') if first => {
                    self.bump();
                    break;
                }
                Some(b'"') => {}
                None => return Err(self.truncated("an object")),
                Some(_) => return Err(self.syntax("key must be a string")),
            }
            first = false;
            let key_size = self.value(limit)?;
            let key = if key_size <= limit {
                serde_json::from_slice::<String>(&self.buf)
                    .map_err(|e| self.syntax(&format!("bad key ({e})")))?
            } else {
                String::new()
            };
            let key_text = std::mem::take(&mut self.buf);
            match self.skip_ws()? {
                Some(b':') => self.bump(),
                None => return Err(self.truncated("an object")),
                Some(_) => return Err(self.syntax("expected `:`")),
            }
            if self.skip_ws()?.is_none() {
                return Err(self.truncated("an object"));
            }
            if key == "Records" {
                if self.peek()? != Some(b'[') {
                    return Err(SplitError::Syntax(format!(
                        "expected `Records` to be an array at line {} column {}",
                        self.line, self.column
                    )));
                }
                self.bump();
                self.elements(limit, emit)?;
                records = true;
            } else {
                let room = limit.saturating_sub(whole_size + key_size + 2);
                let size = self.value(if records { 0 } else { room })?;
                if !records {
                    if whole.len() > 1 {
                        whole.push(b',');
                    }
                    whole_size += key_size + size + 2;
                    if whole_size <= limit {
                        whole.extend_from_slice(&key_text);
                        whole.push(b':');
                        whole.extend_from_slice(&self.buf);
                    } else {
                        whole = Vec::new();
                    }
                }
            }
            match self.skip_ws()? {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    break;
                }
                None => return Err(self.truncated("an object")),
                Some(_) => return Err(self.syntax("expected `,` or `}`")),
            }
        }
        if !records {
            whole_size += 1;
            whole.push(b'}');
            self.buf = whole;
            emit(
                self.event(whole_size, limit)
                    .map_err(|e| format!("the event: {e}")),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(text: &[u8], limit: usize) -> (Vec<ReadEvent>, Result<bool, String>) {
        let mut out = Vec::new();
        let r = split(&mut &text[..], limit, &mut |e| out.push(e)).map_err(|e| match e {
            SplitError::Io(e) => e.to_string(),
            SplitError::Syntax(m) | SplitError::Truncated(m) => m,
        });
        (out, r)
    }

    #[test]
    fn records_arrays_and_single_events() {
        let (events, r) = split_all(
            br#" {"x": 1, "Records": [{"a": 1}, [2], 3, "s"], "y": {"z": [1]}} "#,
            100,
        );
        assert_eq!(r, Ok(true));
        let values: Vec<Value> = events.into_iter().map(|e| e.expect("event")).collect();
        assert_eq!(
            values,
            [
                serde_json::json!({"a": 1}),
                serde_json::json!([2]),
                serde_json::json!(3),
                serde_json::json!("s")
            ]
        );
        let (events, r) = split_all(br#"{"a": {"b": "}]\"{"}, "a": 2, "c": [true, null]}"#, 100);
        assert_eq!(r, Ok(true));
        assert_eq!(events, [Ok(serde_json::json!({"a": 2, "c": [true, null]}))]);
        let (events, r) = split_all(b"[]", 100);
        assert_eq!((events.len(), r), (0, Ok(true)));
        assert_eq!(split_all(b"  \n ", 100).1, Ok(false));
    }

    /// Regression (issue #16): an event over the limit was read whole, whatever its size.
    #[test]
    fn oversized_events_are_skipped_and_the_rest_read() {
        let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(300));
        let doc = format!(r#"{{"Records": [{{"a": 1}}, {big}, {{"a": 3}}]}}"#);
        let (events, r) = split_all(doc.as_bytes(), 200);
        assert_eq!(r, Ok(true));
        assert_eq!(events.len(), 3);
        assert_eq!(events[0], Ok(serde_json::json!({"a": 1})));
        let skipped = events[1].as_ref().expect_err("skipped");
        assert!(
            skipped.starts_with("record 2: 311 bytes, more than"),
            "{skipped}"
        );
        assert_eq!(events[2], Ok(serde_json::json!({"a": 3})));
        // One event that is the whole document.
        let (events, _) = split_all(big.as_bytes(), 200);
        assert!(
            matches!(&events[..], [Err(e)] if e.contains("311 bytes")),
            "{events:?}"
        );
    }

    #[test]
    fn bad_records_are_reported_and_the_next_read() {
        let (events, r) = split_all(br#"{"Records": [{"a": tru}, {"b": 2}]}"#, 100);
        assert_eq!(r, Ok(true));
        assert!(
            events[0]
                .as_ref()
                .is_err_and(|e| e.starts_with("record 1: not JSON"))
        );
        assert_eq!(events[1], Ok(serde_json::json!({"b": 2})));
    }

    #[test]
    fn broken_documents_say_where() {
        for (text, want) in [
            (&b"hello"[..], "not JSON: expected value at line 1 column 1"),
            (
                b"\n  3",
                "not JSON: expected a JSON object or array at line 2 column 3",
            ),
            (
                b"{\"Records\": 3}",
                "expected `Records` to be an array at line 1 column 13",
            ),
            (b"[1, 2", "truncated JSON: EOF while parsing a list"),
            (b"{\"a\": 1", "truncated JSON: EOF while parsing an object"),
            (b"{\"a\" 1}", "not JSON: expected `:`"),
            (
                b"[1] [2]",
                "not JSON: trailing characters at line 1 column 5",
            ),
            (b"[1,]", "not JSON: expected value"),
            (b"{1: 2}", "not JSON: key must be a string"),
        ] {
            let (_, r) = split_all(text, 100);
            let e = r.expect_err("broken");
            assert!(e.starts_with(want), "{e} / {want}");
        }
    }
}
