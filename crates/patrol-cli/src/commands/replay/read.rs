//! Reading the events of one input as a stream: gzip recognised by its magic bytes
//! (whatever the name says), then either one JSON document (a CloudTrail
//! `{"Records": [...]}` file, an array, or a single event) or one JSON value per line.
//!
//! A document's `Records` are handed out one by one as they are parsed, so a record is
//! the largest thing held at once; small documents (the usual CloudTrail file) are read
//! whole first because parsing from memory is several times faster. Whatever could be
//! read before a failure (a truncated gzip, a cut-off document) is still handed out.
//! Replay may ask for the records of a usual CloudTrail file raw instead ([`Item::Raw`],
//! see `raw`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{BufRead, BufReader, Cursor, Read};

use flate2::read::MultiGzDecoder;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::ReadEvent;
use super::raw::{self, RawRecord};

/// Documents up to this size (decompressed) are parsed from memory; larger ones stream.
const SLURP_LIMIT: u64 = 16 << 20;

/// Gzip files up to this size are read whole and inflated in one call when they hold a
/// document under [`SLURP_LIMIT`] ([`gunzip_whole`]).
const GZIP_SLURP_LIMIT: u64 = 8 << 20;

/// How an input's text is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One JSON document.
    Document,
    /// One JSON value per line (NDJSON); a line may itself be a `{"Records": [...]}` file.
    Lines,
}

impl Layout {
    /// From a file or object name: `.jsonl` / `.ndjson` (optionally `.gz`) are lines.
    pub fn for_name(name: &str) -> Layout {
        let name = name.strip_suffix(".gz").unwrap_or(name);
        if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            Layout::Lines
        } else {
            Layout::Document
        }
    }
}

/// Bytes read from the input and after decompression.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sizes {
    pub raw: u64,
    pub decoded: u64,
}

struct Counting<'a, R> {
    inner: R,
    count: &'a Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// What reading hands out: an event (or why a line or record is not one), or a record
/// left raw for replay's fast path.
#[derive(Debug)]
pub enum Item<'a> {
    Event(ReadEvent),
    Raw(&'a RawRecord<'a>),
}

/// Hands every event of `input` to `emit` (unreadable lines as `Err`); `Err` when the
/// input as a whole is broken, after emitting whatever came before the damage.
pub fn read_events(
    input: impl Read,
    layout: Layout,
    emit: &mut dyn FnMut(ReadEvent),
) -> (Sizes, Result<(), String>) {
    read_items(input, layout, false, &mut |item| match item {
        Item::Event(e) => emit(e),
        Item::Raw(r) => emit(serde_json::from_str(r.json).map_err(|e| e.to_string())),
    })
}

/// Like [`read_events`]; with `raw`, the records of a usual CloudTrail file come raw
/// ([`super::raw`]).
pub fn read_items(
    input: impl Read,
    layout: Layout,
    raw: bool,
    emit: &mut dyn FnMut(Item<'_>),
) -> (Sizes, Result<(), String>) {
    let (bytes, decoded) = (Cell::new(0), Cell::new(0));
    let result = read_counted(input, layout, raw, &bytes, &decoded, emit);
    let sizes = Sizes {
        raw: bytes.get(),
        decoded: decoded.get(),
    };
    (sizes, result)
}

fn read_counted(
    input: impl Read,
    layout: Layout,
    fast: bool,
    raw: &Cell<u64>,
    decoded: &Cell<u64>,
    emit: &mut dyn FnMut(Item<'_>),
) -> Result<(), String> {
    let mut buffered = BufReader::with_capacity(
        256 << 10,
        Counting {
            inner: input,
            count: raw,
        },
    );
    let head = buffered
        .fill_buf()
        .map_err(|e| format!("cannot read: {e}"))?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    if gzip && layout == Layout::Document {
        // The usual CloudTrail file: small enough to inflate in one call, about twice as
        // fast as streaming it through flate2. Anything else streams as before.
        let mut w = WHOLE.with(RefCell::take);
        w.stored.clear();
        let whole = (&mut buffered)
            .take(GZIP_SLURP_LIMIT)
            .read_to_end(&mut w.stored)
            .is_ok_and(|n| (n as u64) < GZIP_SLURP_LIMIT);
        let result = if whole && gunzip_whole(&w.stored, SLURP_LIMIT, &mut w.inflate, &mut w.text) {
            decoded.set(w.text.len() as u64);
            read_text(&w.text, fast, emit)
        } else {
            let text = Counting {
                inner: MultiGzDecoder::new(Cursor::new(&w.stored[..]).chain(buffered)),
                count: decoded,
            };
            read_document(text, fast, emit, &|e| {
                format!("truncated or corrupt gzip: {e}")
            })
        };
        if w.stored.capacity().max(w.text.capacity()) <= KEEP_CAPACITY {
            WHOLE.with(|c| c.replace(w));
        }
        return result;
    }
    let plain: Box<dyn Read + '_> = if gzip {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let text = Counting {
        inner: plain,
        count: decoded,
    };
    let io_error = |e: std::io::Error| {
        if gzip {
            format!("truncated or corrupt gzip: {e}")
        } else {
            format!("cannot read: {e}")
        }
    };
    match layout {
        Layout::Lines => read_lines(text, &mut |e| emit(Item::Event(e)), &io_error),
        Layout::Document => read_document(text, fast, emit, &io_error),
    }
}

/// What a worker thread keeps from one gzip file to the next: allocating a file's worth
/// of memory (and a fresh inflater) for every file cost more than the malloc calls are
/// worth.
#[derive(Default)]
struct Whole {
    stored: Vec<u8>,
    text: Vec<u8>,
    inflate: Option<sirocco::inflate::Decoder>,
}

thread_local! {
    static WHOLE: RefCell<Whole> = RefCell::new(Whole::default());
}

/// Buffers larger than this (from an unusually large file) are not kept.
const KEEP_CAPACITY: usize = 32 << 20;

/// A gzip file read whole, inflated in one call into `text` by sirocco (a table-driven
/// decoder in libdeflate's style, safe Rust, about 1.45 times as fast as zlib-rs on these
/// files): false unless it is exactly one gzip member that inflates to less than `limit`
/// bytes with the length and CRC-32 its trailer states. Whatever else it may be (several
/// members, damage, a lying trailer) is then left to the streaming reader (flate2), which
/// reads it the standard way and says what is wrong.
fn gunzip_whole(
    gz: &[u8],
    limit: u64,
    inflate: &mut Option<sirocco::inflate::Decoder>,
    text: &mut Vec<u8>,
) -> bool {
    let whole = gunzip_into(gz, limit, inflate, text).is_some();
    if !whole {
        text.clear();
    }
    whole
}

fn gunzip_into(
    gz: &[u8],
    limit: u64,
    inflate: &mut Option<sirocco::inflate::Decoder>,
    text: &mut Vec<u8>,
) -> Option<()> {
    // The trailer's length (mod 2^32) sizes the buffer; the decoder checks it, and the
    // CRC-32, against what it inflates.
    let size = u32::from_le_bytes(gz.get(gz.len().checked_sub(4)?..)?.try_into().ok()?);
    if u64::from(size) >= limit {
        return None;
    }
    text.resize(size as usize, 0);
    let decoder =
        inflate.get_or_insert_with(|| sirocco::inflate::Decoder::new(sirocco::Format::Gzip));
    decoder.reset();
    let done = decoder.decompress(gz, text, true).ok()?;
    // One member that fills the buffer exactly and ends the file: nothing after it.
    (done.done && done.consumed == gz.len() && done.output.len() == text.len()).then_some(())
}

fn read_lines(
    text: impl Read,
    emit: &mut dyn FnMut(ReadEvent),
    io_error: &dyn Fn(std::io::Error) -> String,
) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(256 << 10, text);
    let mut line = Vec::new();
    let mut n = 0usize;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("after line {n}: {}", io_error(e))),
        }
        n += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(Value::Object(mut obj)) if obj.contains_key("Records") => {
                match obj.remove("Records") {
                    Some(Value::Array(records)) => records.into_iter().for_each(|r| emit(Ok(r))),
                    _ => emit(Err(format!("line {n}: `Records` is not an array"))),
                }
            }
            Ok(v) => emit(Ok(v)),
            Err(e) => emit(Err(format!("line {n}: not JSON: {e}"))),
        }
    }
}

fn read_document(
    mut text: impl Read,
    fast: bool,
    emit_item: &mut dyn FnMut(Item<'_>),
    io_error: &dyn Fn(std::io::Error) -> String,
) -> Result<(), String> {
    let mut head = Vec::new();
    match (&mut text).take(SLURP_LIMIT).read_to_end(&mut head) {
        Err(e) => {
            // Salvage the records before the damage; the parse error is only its echo.
            let _ = parse(serde_json::Deserializer::from_slice(&head), &mut |e| {
                emit_item(Item::Event(e));
            });
            Err(io_error(e))
        }
        Ok(n) if (n as u64) < SLURP_LIMIT => read_text(&head, fast, emit_item),
        Ok(_) => parse(
            serde_json::Deserializer::from_reader(Cursor::new(head).chain(text)),
            &mut |e| emit_item(Item::Event(e)),
        )
        .map_err(|e| {
            if e.classify() == serde_json::error::Category::Io {
                io_error(std::io::Error::other(e.to_string()))
            } else {
                json_error(&e)
            }
        }),
    }
}

/// A whole document in memory.
fn read_text(text: &[u8], fast: bool, emit_item: &mut dyn FnMut(Item<'_>)) -> Result<(), String> {
    if fast && let Some(records) = raw::records(text) {
        records.iter().for_each(|r| emit_item(Item::Raw(r)));
        return Ok(());
    }
    parse(serde_json::Deserializer::from_slice(text), &mut |e| {
        emit_item(Item::Event(e));
    })
    .map_err(|e| json_error(&e))
}

fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => format!("truncated JSON: {e}"),
        Category::Syntax => format!("not JSON: {e}"),
        Category::Io | Category::Data => e.to_string(),
    }
}

fn parse<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    emit: &mut dyn FnMut(ReadEvent),
) -> serde_json::Result<()> {
    Document { emit }.deserialize(&mut de)?;
    de.end()
}

/// A whole document: `{"Records": [...]}` (records streamed), an array of events, or one
/// event object.
struct Document<'a> {
    emit: &'a mut dyn FnMut(ReadEvent),
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.emit)(Ok(v));
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut other = Map::new();
        let mut records = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                map.next_value_seed(Records {
                    emit: &mut *self.emit,
                })?;
                records = true;
            } else if records {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else {
                other.insert(key, map.next_value()?);
            }
        }
        if !records {
            (self.emit)(Ok(Value::Object(other)));
        }
        Ok(())
    }
}

/// The `Records` array, each member handed out as soon as it is parsed.
struct Records<'a> {
    emit: &'a mut dyn FnMut(ReadEvent),
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`Records` to be an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.emit)(Ok(v));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn read(bytes: &[u8], layout: Layout) -> (Vec<ReadEvent>, Result<(), String>) {
        let mut out = Vec::new();
        let (_, r) = read_events(bytes, layout, &mut |e| out.push(e));
        (out, r)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).ok();
        gz.finish().unwrap_or_default()
    }

    #[test]
    fn records_document_streams_each_record() {
        let (events, r) = read(br#"{"Records": [{"a": 1}, {"a": 2}]}"#, Layout::Document);
        assert_eq!(r, Ok(()));
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn object_without_records_is_one_event_and_array_is_many() {
        let (events, _) = read(br#"{"detail": {}}"#, Layout::Document);
        assert_eq!(events.len(), 1);
        let (events, _) = read(br#"[{"a": 1}, {"a": 2}, {"a": 3}]"#, Layout::Document);
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn gzip_is_recognised_by_magic_bytes() {
        let (events, r) = read(&gzip(br#"{"Records": [{"a": 1}]}"#), Layout::Document);
        assert_eq!((events.len(), r), (1, Ok(())));
    }

    #[test]
    fn truncated_gzip_is_an_error_after_the_records_before_it() {
        let records: Vec<String> = (0..2000)
            .map(|i| format!(r#"{{"eventID": "{i}", "pad": "{}"}}"#, i * 7919))
            .collect();
        let doc = format!(r#"{{"Records": [{}]}}"#, records.join(","));
        let gz = gzip(doc.as_bytes());
        let (events, r) = read(&gz[..gz.len() / 2], Layout::Document);
        let err = r.expect_err("truncated");
        assert!(err.contains("truncated or corrupt gzip"), "{err}");
        assert!(
            !events.is_empty() && events.len() < 2000,
            "{}",
            events.len()
        );
    }

    #[test]
    fn not_json_and_records_not_an_array_are_errors() {
        let (_, r) = read(b"hello", Layout::Document);
        assert!(r.expect_err("not json").starts_with("not JSON"));
        let (_, r) = read(br#"{"Records": 3}"#, Layout::Document);
        assert!(r.expect_err("records").contains("`Records` to be an array"));
    }

    #[test]
    fn lines_keep_going_after_a_bad_line_and_expand_records_lines() {
        let text = b"{\"a\": 1}\nnope\n\n{\"Records\": [{\"b\": 1}, {\"b\": 2}]}\n";
        let (events, r) = read(text, Layout::Lines);
        assert_eq!(r, Ok(()));
        assert_eq!(events.len(), 4);
        assert!(events[1].as_ref().is_err_and(|e| e.starts_with("line 2")));
    }

    #[test]
    fn large_documents_stream_from_the_reader() {
        let pad = "x".repeat(1 << 20);
        let records: Vec<String> = (0..20)
            .map(|i| format!(r#"{{"i": {i}, "pad": "{pad}"}}"#))
            .collect();
        let doc = format!(r#"{{"Records": [{}]}}"#, records.join(","));
        assert!(doc.len() as u64 > SLURP_LIMIT);
        let (events, r) = read(doc.as_bytes(), Layout::Document);
        assert_eq!((events.len(), r), (20, Ok(())));
    }

    fn gunzip(gz: &[u8], limit: u64) -> Option<Vec<u8>> {
        let mut text = b"left over".to_vec();
        gunzip_whole(gz, limit, &mut None, &mut text).then_some(text)
    }

    /// One-call inflation takes exactly one clean member; everything else is left to the
    /// streaming reader, which still reads all of it (several members) or reports it.
    #[test]
    fn whole_gzip_files_inflate_in_one_call_only_when_clean() {
        let doc = br#"{"Records": [{"eventSource": "s3.amazonaws.com"}, {"eventSource": "iam.amazonaws.com"}]}"#;
        let gz = gzip(doc);
        assert_eq!(gunzip(&gz, SLURP_LIMIT).as_deref(), Some(&doc[..]));
        // A file name in the header (`gzip -N`).
        let mut named = flate2::GzBuilder::new()
            .filename("x.json")
            .comment("c")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), flate2::Compression::default());
        named.write_all(doc).ok();
        let named = named.finish().unwrap_or_default();
        assert_eq!(gunzip(&named, SLURP_LIMIT).as_deref(), Some(&doc[..]));
        // Two members (even identical ones): not in one call, but the reader gets both.
        let two = [gz.clone(), gz.clone()].concat();
        assert_eq!(gunzip(&two, SLURP_LIMIT), None);
        let (half, rest) = doc.split_at(doc.len() / 2);
        let split = [gzip(half), gzip(rest)].concat();
        assert_eq!(gunzip(&split, SLURP_LIMIT), None);
        let (events, r) = read(&split, Layout::Document);
        assert_eq!((events.len(), r), (2, Ok(())));
        // A wrong CRC, a wrong length, a cut-off file, over the limit.
        let n = gz.len();
        let mut bad_crc = gz.clone();
        bad_crc[n - 8] ^= 1;
        let mut bad_len = gz.clone();
        bad_len[n - 4] ^= 1;
        for bad in [&bad_crc[..], &bad_len[..], &gz[..n - 9], &gz[..n / 2]] {
            assert_eq!(gunzip(bad, SLURP_LIMIT), None);
        }
        assert_eq!(gunzip(&gz, doc.len() as u64), None);
        let (events, r) = read(&bad_crc, Layout::Document);
        assert!(
            r.as_ref().is_err_and(|e| e.contains("corrupt gzip")),
            "{r:?}"
        );
        assert!(events.len() <= 2);
    }

    /// The one-call decoder gives what flate2 gives, on text of every compressibility
    /// and at every level (stored blocks, fixed and dynamic Huffman codes).
    #[test]
    fn one_call_inflation_agrees_with_flate2() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [0usize, 1, 100, 4096, 70_000, 300_000] {
            for alphabet in [2u64, 16, 256] {
                let text: Vec<u8> = (0..n)
                    .map(|i| match i % 7 {
                        0..=3 => (next() % alphabet) as u8,
                        _ => b"{\"eventName\": \"x\"}"[i % 18],
                    })
                    .collect();
                for level in [0, 1, 6, 9] {
                    let mut gz =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
                    gz.write_all(&text).ok();
                    let gz = gz.finish().unwrap_or_default();
                    let mut streamed = Vec::new();
                    MultiGzDecoder::new(&gz[..]).read_to_end(&mut streamed).ok();
                    assert_eq!(streamed, text);
                    assert_eq!(
                        gunzip(&gz, SLURP_LIMIT).as_ref(),
                        Some(&text),
                        "{n} bytes, alphabet {alphabet}, level {level}"
                    );
                }
            }
        }
    }

    #[test]
    fn layout_follows_the_name() {
        assert_eq!(Layout::for_name("a/b.ndjson.gz"), Layout::Lines);
        assert_eq!(Layout::for_name("a/b.jsonl"), Layout::Lines);
        assert_eq!(Layout::for_name("a/b.json.gz"), Layout::Document);
    }
}
