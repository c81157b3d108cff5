//! The one-pass event reader for [`super::Matcher`]: walks raw JSON bytes (or a
//! `serde_json::Value`) along a trie of the field paths that some pattern names, turns
//! only those values into leaves, and skips everything else without decoding it (skipped
//! parts are checked only for balanced brackets and terminated strings; unnamed objects
//! and arrays are skipped 64 bytes at a time by [`super::structure`]).

use super::EventError;
use super::structure::find_any;
use super::value::Scalar;
use std::borrow::Cow;

mod trie;

pub(crate) use trie::Trie;

/// Most nesting of objects and arrays read along a named path.
const MAX_DEPTH: u32 = 512;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is zero (exact for the lowest such byte, which
/// is all we use).
#[inline(always)]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGHS
}

#[inline(always)]
fn load8(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

/// Position of the first `"` or `\\` at or after `i`.
#[inline(always)]
fn find_quote_or_backslash(b: &[u8], i: usize) -> Option<usize> {
    find_any(b, i, [b'"', b'\\'])
}

/// Position of the first `"`, `\\` or `.` at or after `i`: where a plain key ends, or
/// where it needs the general path (escapes, dots).
#[inline(always)]
fn find_key_end(b: &[u8], i: usize) -> Option<usize> {
    find_any(b, i, [b'"', b'\\', b'.'])
}

#[derive(Debug)]
pub(crate) struct ScanLeaf<'a> {
    pub(crate) field: u32,
    pub(crate) value: Scalar<'a>,
    /// Range into [`Scan::arena`]: the array elements this leaf sits in.
    pub(crate) mem_start: u32,
    pub(crate) mem_len: u32,
}

/// What reading an event produces, and the reader's working stacks: all kept between
/// events (see [`Scan::recycle`]), so that reading an event allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scan<'a> {
    pub(crate) leaves: Vec<ScanLeaf<'a>>,
    pub(crate) arena: Vec<(u32, u32)>,
    /// The array elements the reader is inside (array id, index).
    mem: Vec<(u32, u32)>,
    /// The named keys of the objects being read (trie node, its leaves), innermost
    /// object last: a repeated key replaces the earlier value, as in `serde_json`.
    seen: Vec<(u32, u32, u32)>,
}

impl<'a> Scan<'a> {
    pub(crate) fn mem(&self, leaf: &ScanLeaf<'_>) -> &[(u32, u32)] {
        &self.arena[leaf.mem_start as usize..(leaf.mem_start + leaf.mem_len) as usize]
    }

    /// Empties the buffers for the next event, keeping their memory. (The leaves borrow
    /// from the event, so their vector is rebuilt for the next event's lifetime; with no
    /// elements in it, collecting in place keeps the allocation.)
    pub(crate) fn recycle<'b>(self) -> Scan<'b> {
        let Scan {
            leaves,
            mut arena,
            mut mem,
            mut seen,
        } = self;
        arena.clear();
        mem.clear();
        seen.clear();
        let mut leaves = leaves;
        leaves.clear();
        // `filter_map` (not `filter`) changes the lifetime; it never runs on an element.
        #[allow(clippy::unnecessary_filter_map)]
        let leaves = leaves.into_iter().filter_map(|_| None).collect();
        Scan {
            leaves,
            arena,
            mem,
            seen,
        }
    }

    /// A leaf at the reader's current array position.
    fn push_leaf(&mut self, field: u32, value: Scalar<'a>) {
        let mem_start = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
        self.arena.extend_from_slice(&self.mem);
        let mem_len = u32::try_from(self.mem.len()).unwrap_or(u32::MAX);
        self.leaves.push(ScanLeaf {
            field,
            value,
            mem_start,
            mem_len,
        });
    }

    fn push(&mut self, field: u32, value: Scalar<'a>, mem: &[(u32, u32)]) {
        let mem_start = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
        self.arena.extend_from_slice(mem);
        let mem_len = u32::try_from(mem.len()).unwrap_or(u32::MAX);
        self.leaves.push(ScanLeaf {
            field,
            value,
            mem_start,
            mem_len,
        });
    }
}

/// Reads the leaves of `bytes` that `trie` names.
pub(crate) fn scan<'a>(trie: &Trie, bytes: &'a [u8], out: &mut Scan<'a>) -> Result<(), EventError> {
    let mut s = Scanner {
        b: bytes,
        pos: 0,
        trie,
        replaced: false,
        next_array: 0,
        depth: 0,
        out,
    };
    s.pos = skip_ws(bytes, 0);
    if s.peek() != Some(b'{') {
        // Not an object: say whether it is other JSON or no JSON at all.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => EventError::NotAnObject,
                Err(e) => EventError::Syntax {
                    offset: s.pos,
                    message: e.to_string(),
                },
            },
        );
    }
    s.object(0)?;
    s.pos = skip_ws(bytes, s.pos);
    if s.pos != bytes.len() {
        return Err(s.err("trailing characters after the event"));
    }
    if s.replaced {
        s.out.leaves.retain(|l| l.field != REPLACED);
    }
    Ok(())
}

/// `:"` and `,"` as [`load2`] reads them.
const COLON_QUOTE: u16 = u16::from_le_bytes(*b":\"");
const COMMA_QUOTE: u16 = u16::from_le_bytes(*b",\"");

#[inline(always)]
fn load2(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_le_bytes)
}

/// The field of a leaf that a later duplicate key replaced.
const REPLACED: u32 = u32::MAX;

#[inline(always)]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

/// The first position at or after `i` that is not JSON whitespace.
#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if !is_ws(c) {
            break;
        }
        i += 1;
    }
    i
}

/// Position of the first `"` at or after `i`.
#[inline(always)]
fn find_quote(b: &[u8], i: usize) -> Option<usize> {
    find_any(b, i, [b'"'])
}

/// Position of the `"` that closes the string whose text starts at `start`. A quote is
/// escaped when an odd run of backslashes comes right before it, so escapes need no
/// decoding here.
#[inline(always)]
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    loop {
        let p = find_quote(b, i)?;
        if p > start && b.get(p - 1) == Some(&b'\\') {
            let run = b
                .get(start..p)?
                .iter()
                .rev()
                .take_while(|c| **c == b'\\')
                .count();
            if run % 2 == 1 {
                i = p + 1;
                continue;
            }
        }
        return Some(p);
    }
}

struct Scanner<'a, 't, 'o> {
    b: &'a [u8],
    pos: usize,
    trie: &'t Trie,
    /// Some leaf was replaced (its field set to [`REPLACED`]).
    replaced: bool,
    next_array: u32,
    depth: u32,
    out: &'o mut Scan<'a>,
}

impl<'a> Scanner<'a, '_, '_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[cold]
    fn err(&self, message: &str) -> EventError {
        EventError::Syntax {
            offset: self.pos,
            message: message.to_string(),
        }
    }

    #[cold]
    fn err_at(&mut self, i: usize, message: &str) -> EventError {
        self.pos = i;
        self.err(message)
    }

    fn enter(&mut self) -> Result<(), EventError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("the event nests objects and arrays too deeply"));
        }
        Ok(())
    }

    /// At `{`, reading the fields below trie node `node`. The common compact layout
    /// (`"key":value,"key":...`) is read without whitespace checks, and values of keys no
    /// pattern names are skipped right here.
    fn object(&mut self, node: u32) -> Result<(), EventError> {
        self.enter()?;
        let b = self.b;
        let mut i = skip_ws(b, self.pos + 1);
        if b.get(i) == Some(&b'}') {
            self.pos = i + 1;
            self.depth -= 1;
            return Ok(());
        }
        let seen_base = self.out.seen.len();
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(self.err_at(i, "expected a field name"));
            }
            let start = i + 1;
            let child = match find_key_end(b, start) {
                Some(end) if b[end] == b'"' => {
                    i = end + 1;
                    self.trie.child_at(node, b, start, end - start)
                }
                _ => {
                    self.pos = i;
                    let key = self.string_bytes()?;
                    i = self.pos;
                    self.trie.walk(node, &key)
                }
            };
            // The compact layout first: `"key":"value",` with an unnamed key.
            if child.is_none() && load2(b, i) == Some(COLON_QUOTE) {
                match string_end(b, i + 2) {
                    Some(p) => i = p + 1,
                    None => return Err(self.err_at(b.len(), "unterminated string")),
                }
            } else {
                if b.get(i) != Some(&b':') {
                    i = skip_ws(b, i);
                    if b.get(i) != Some(&b':') {
                        return Err(self.err_at(i, "expected `:` after a field name"));
                    }
                }
                i += 1;
                let mut c = b.get(i).copied();
                if c.is_some_and(is_ws) {
                    i = skip_ws(b, i);
                    c = b.get(i).copied();
                }
                match (child, c) {
                    (None, Some(b'"')) => match string_end(b, i + 1) {
                        Some(p) => i = p + 1,
                        None => return Err(self.err_at(b.len(), "unterminated string")),
                    },
                    (None, _) => {
                        self.pos = i;
                        self.skip_value()?;
                        i = self.pos;
                    }
                    (Some(child), _) => {
                        self.pos = i;
                        self.named_value(child, seen_base)?;
                        i = self.pos;
                    }
                }
            }
            if load2(b, i) == Some(COMMA_QUOTE) {
                i += 1;
                continue;
            }
            let mut c = b.get(i).copied();
            if c.is_some_and(is_ws) {
                i = skip_ws(b, i);
                c = b.get(i).copied();
            }
            match c {
                Some(b',') => {
                    i += 1;
                    if b.get(i) != Some(&b'"') {
                        i = skip_ws(b, i);
                    }
                }
                Some(b'}') => {
                    self.pos = i + 1;
                    self.depth -= 1;
                    self.out.seen.truncate(seen_base);
                    return Ok(());
                }
                _ => return Err(self.err_at(i, "expected `,` or `}` in an object")),
            }
        }
    }

    /// The value of a key that reaches trie node `child`, in the object whose keys seen
    /// so far are `self.out.seen[seen_base..]`.
    fn named_value(&mut self, child: u32, seen_base: usize) -> Result<(), EventError> {
        let first = u32::try_from(self.out.leaves.len()).unwrap_or(u32::MAX);
        self.value(child)?;
        let end = u32::try_from(self.out.leaves.len()).unwrap_or(u32::MAX);
        match self.out.seen[seen_base..].iter_mut().find(|s| s.0 == child) {
            Some(entry) => {
                // A repeated key: serde_json keeps the last value, and so do we.
                if let Some(old) = self.out.leaves.get_mut(entry.1 as usize..entry.2 as usize) {
                    for l in old {
                        l.field = REPLACED;
                        self.replaced = true;
                    }
                }
                *entry = (child, first, end);
            }
            None => self.out.seen.push((child, first, end)),
        }
        Ok(())
    }

    fn value(&mut self, node: u32) -> Result<(), EventError> {
        match self.peek() {
            Some(b'{') => {
                if self.trie.has_children(node) {
                    self.object(node)
                } else {
                    self.skip_value()
                }
            }
            Some(b'[') => self.array(node),
            _ => match self.trie.field(node) {
                Some(field) => {
                    let v = self.scalar()?;
                    self.out.push_leaf(field, v);
                    Ok(())
                }
                None => self.skip_value(),
            },
        }
    }

    fn array(&mut self, node: u32) -> Result<(), EventError> {
        self.enter()?;
        let id = self.next_array;
        self.next_array += 1;
        self.pos = skip_ws(self.b, self.pos + 1);
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut idx = 0u32;
        loop {
            self.out.mem.push((id, idx));
            let r = self.value(node);
            self.out.mem.pop();
            r?;
            self.pos = skip_ws(self.b, self.pos);
            match self.peek() {
                Some(b',') => {
                    self.pos = skip_ws(self.b, self.pos + 1);
                    idx += 1;
                }
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `]` in an array")),
            }
        }
    }

    fn scalar(&mut self) -> Result<Scalar<'a>, EventError> {
        match self.peek() {
            Some(b'"') => {
                let start = self.pos;
                let raw = self.string_bytes()?;
                let s = match raw {
                    Cow::Borrowed(b) => {
                        Cow::Borrowed(std::str::from_utf8(b).map_err(|_| EventError::Syntax {
                            offset: start,
                            message: "invalid UTF-8 in a string".into(),
                        })?)
                    }
                    Cow::Owned(v) => {
                        Cow::Owned(String::from_utf8(v).map_err(|_| EventError::Syntax {
                            offset: start,
                            message: "invalid UTF-8 in a string".into(),
                        })?)
                    }
                };
                Ok(Scalar::Str(s))
            }
            Some(b't') => self.literal(b"true", Scalar::Bool(true)),
            Some(b'f') => self.literal(b"false", Scalar::Bool(false)),
            Some(b'n') => self.literal(b"null", Scalar::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or("");
                if !super::number::is_json_number(text.as_bytes()) {
                    return Err(EventError::Syntax {
                        offset: start,
                        message: format!("invalid number `{text}`"),
                    });
                }
                Ok(Scalar::Num(super::number::exact_value(text)))
            }
            _ => Err(self.err("expected a value")),
        }
    }

    fn literal(&mut self, word: &[u8], v: Scalar<'a>) -> Result<Scalar<'a>, EventError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    /// At `"`: the string's bytes, unescaped, and moves past the closing quote.
    fn string_bytes(&mut self) -> Result<Cow<'a, [u8]>, EventError> {
        let start = self.pos + 1;
        match find_quote_or_backslash(self.b, start).map(|p| p - start) {
            Some(off) if self.b[start + off] == b'"' => {
                self.pos = start + off + 1;
                Ok(Cow::Borrowed(&self.b[start..start + off]))
            }
            Some(off) => {
                let mut out = self.b[start..start + off].to_vec();
                self.pos = start + off;
                self.unescape_rest(&mut out)?;
                Ok(Cow::Owned(out))
            }
            None => {
                self.pos = self.b.len();
                Err(self.err("unterminated string"))
            }
        }
    }

    /// At a `\` inside a string; appends the decoded rest of the string to `out`.
    fn unescape_rest(&mut self, out: &mut Vec<u8>) -> Result<(), EventError> {
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
                    self.pos += 1;
                    let ch = match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi)
                                && self.b[self.pos..].starts_with(b"\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                        .unwrap_or('\u{FFFD}')
                                } else {
                                    out.extend_from_slice("\u{FFFD}".as_bytes());
                                    char::from_u32(lo).unwrap_or('\u{FFFD}')
                                }
                            } else {
                                char::from_u32(hi).unwrap_or('\u{FFFD}')
                            }
                        }
                        _ => return Err(self.err("invalid escape in a string")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                Some(_) => {
                    let rest = &self.b[self.pos..];
                    let n = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                    out.extend_from_slice(&rest[..n]);
                    self.pos += n;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, EventError> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("short \\u escape"))?;
        let s = std::str::from_utf8(h).map_err(|_| self.err("invalid \\u escape"))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn skip_string(&mut self) -> Result<(), EventError> {
        match string_end(self.b, self.pos + 1) {
            Some(p) => {
                self.pos = p + 1;
                Ok(())
            }
            None => Err(self.err_at(self.b.len(), "unterminated string")),
        }
    }

    /// At `{` or `[`: skips to just past the matching bracket, 64 bytes at a time
    /// ([`super::structure::container_end`]).
    fn skip_container(&mut self) -> Result<(), EventError> {
        match super::structure::container_end(self.b, self.pos) {
            Some(end) => {
                self.pos = end;
                Ok(())
            }
            None => Err(self.err_at(self.b.len(), "unterminated object or array")),
        }
    }

    /// Skips one value of any kind that no pattern names.
    fn skip_value(&mut self) -> Result<(), EventError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => self.skip_container(),
            Some(_) => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    Err(self.err("expected a value"))
                } else {
                    Ok(())
                }
            }
            None => Err(self.err("unexpected end of input")),
        }
    }
}

/// The same walk over an already parsed event.
pub(crate) fn scan_value<'a>(trie: &Trie, event: &'a serde_json::Value, out: &mut Scan<'a>) {
    if event.is_object() {
        let mut next_array = 0;
        walk_value(trie, 0, event, &mut Vec::new(), &mut next_array, out);
    }
}

fn walk_value<'a>(
    trie: &Trie,
    node: u32,
    v: &'a serde_json::Value,
    mem: &mut Vec<(u32, u32)>,
    next_array: &mut u32,
    out: &mut Scan<'a>,
) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                if let Some(c) = trie.walk(node, k.as_bytes()) {
                    walk_value(trie, c, child, mem, next_array, out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            let id = *next_array;
            *next_array += 1;
            for (i, item) in items.iter().enumerate() {
                mem.push((id, u32::try_from(i).unwrap_or(u32::MAX)));
                walk_value(trie, node, item, mem, next_array, out);
                mem.pop();
            }
        }
        scalar => {
            if let (Some(field), Some(value)) = (trie.field(node), Scalar::from_json(scalar)) {
                out.push(field, value, mem);
            }
        }
    }
}

#[cfg(test)]
mod tests;
