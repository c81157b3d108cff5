//! Reading the events of one input as a stream: gzip recognised by its magic bytes
//! (whatever the name says), then either one JSON document (a CloudTrail
//! `{"Records": [...]}` file, an array, or a single event) or one JSON value per line.
//!
//! A document's events are cut out as it streams by (`split`), so one event is the largest
//! thing held at once, and an event over EventBridge's 1 MiB limit is skipped with a
//! reason, never held whole: a line, a record or an object. Small documents (the usual
//! CloudTrail file) are read whole first because the fast path (`raw`) reads from memory.
//! Whatever could be read before a failure (a truncated gzip, a cut-off document) is still
//! handed out. Replay may ask for the records of a usual CloudTrail file raw instead
//! ([`Item::Raw`], see `raw`).

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Cursor, Read};

use flate2::read::MultiGzDecoder;

use super::ReadEvent;
use super::raw::{self, RawRecord};
use super::split::{MAX_EVENT_BYTES, SplitError, split, too_large};

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
    for n in 1.. {
        match reader.fill_buf() {
            Ok([]) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("after line {}: {}", n - 1, io_error(e))),
        }
        // Each line is a document of its own (a `{"Records": [...]}` line streams too),
        // read up to its newline only.
        let mut line = Line::new(&mut reader);
        let result = split(&mut line, MAX_EVENT_BYTES, &mut |e| {
            emit(e.map_err(|e| format!("line {n}: {e}")));
        });
        // What the document left of the line (after a syntax error), then its newline.
        let rest = line.skip_rest();
        match result {
            Err(SplitError::Io(e)) => return Err(format!("after line {}: {}", n - 1, io_error(e))),
            Err(SplitError::Syntax(m) | SplitError::Truncated(m)) => {
                emit(Err(format!("line {n}: {m}")));
            }
            Ok(_) => {}
        }
        if let Err(e) = rest {
            return Err(format!("after line {n}: {}", io_error(e)));
        }
    }
    Ok(())
}

/// One line of a reader, as a reader: it ends before the newline.
struct Line<'a, R> {
    inner: &'a mut R,
    /// Bytes at the front of `inner`'s buffer known to be in this line (the newline is
    /// looked for once per buffer, not at every call).
    ahead: usize,
    /// Whether the newline follows those bytes in the buffer.
    newline: bool,
}

impl<'a, R: BufRead> Line<'a, R> {
    fn new(inner: &'a mut R) -> Self {
        Line {
            inner,
            ahead: 0,
            newline: false,
        }
    }

    /// Reads past the rest of the line and its newline.
    fn skip_rest(&mut self) -> std::io::Result<()> {
        loop {
            let n = self.fill_buf()?.len();
            if n == 0 {
                break;
            }
            self.consume(n);
        }
        if self.newline {
            self.inner.consume(1);
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Line<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let chunk = self.fill_buf()?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Line<'_, R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.ahead == 0 && !self.newline {
            let chunk = self.inner.fill_buf()?;
            match chunk.iter().position(|b| *b == b'\n') {
                Some(at) => (self.ahead, self.newline) = (at, true),
                None => self.ahead = chunk.len(),
            }
        }
        let ahead = self.ahead;
        Ok(&self.inner.fill_buf()?[..ahead])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.ahead);
        self.ahead -= amount;
        self.inner.consume(amount);
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
            let _ = split(&mut &head[..], MAX_EVENT_BYTES, &mut |e| {
                emit_item(Item::Event(e));
            });
            Err(io_error(e))
        }
        Ok(n) if (n as u64) < SLURP_LIMIT => read_text(&head, fast, emit_item),
        Ok(_) => {
            let mut stream = BufReader::with_capacity(256 << 10, Cursor::new(head).chain(text));
            split_document(&mut stream, emit_item, io_error)
        }
    }
}

/// A whole document in memory.
fn read_text(text: &[u8], fast: bool, emit_item: &mut dyn FnMut(Item<'_>)) -> Result<(), String> {
    if fast && let Some(records) = raw::records(text) {
        for (i, r) in records.iter().enumerate() {
            if r.json.len() > MAX_EVENT_BYTES {
                // As `split` says it, for the same record.
                let why = too_large(r.json.len(), MAX_EVENT_BYTES);
                emit_item(Item::Event(Err(format!("record {}: {why}", i + 1))));
            } else {
                emit_item(Item::Raw(r));
            }
        }
        return Ok(());
    }
    split_document(&mut &text[..], emit_item, &|e| format!("cannot read: {e}"))
}

fn split_document(
    input: &mut dyn BufRead,
    emit_item: &mut dyn FnMut(Item<'_>),
    io_error: &dyn Fn(std::io::Error) -> String,
) -> Result<(), String> {
    match split(input, MAX_EVENT_BYTES, &mut |e| emit_item(Item::Event(e))) {
        Ok(true) => Ok(()),
        Ok(false) => Err("truncated JSON: the file is empty".to_owned()),
        Err(SplitError::Io(e)) => Err(io_error(e)),
        Err(SplitError::Syntax(m) | SplitError::Truncated(m)) => Err(m),
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
        let pad = "x".repeat(512 << 10);
        let records: Vec<String> = (0..40)
            .map(|i| format!(r#"{{"i": {i}, "pad": "{pad}"}}"#))
            .collect();
        let doc = format!(r#"{{"Records": [{}]}}"#, records.join(","));
        assert!(doc.len() as u64 > SLURP_LIMIT);
        let (events, r) = read(doc.as_bytes(), Layout::Document);
        assert_eq!(r, Ok(()));
        assert_eq!(events.len(), 40);
        assert!(events.iter().all(Result::is_ok));
    }

    /// `{"pad": "xxx…"}` with `pad_bytes` x's, then a newline.
    fn padded_line(pad_bytes: usize) -> Vec<u8> {
        let mut line = br#"{"pad": ""#.to_vec();
        line.resize(line.len() + pad_bytes, b'x');
        line.extend_from_slice(b"\"}\n");
        line
    }

    /// Regression (issue #16): a line was read whole into memory whatever its size, and
    /// an event EventBridge could never deliver was replayed.
    #[test]
    fn oversized_ndjson_line_is_skipped_with_a_warning() {
        let mut text = b"{\"a\": 1}\n".to_vec();
        text.extend(padded_line(2 << 20));
        text.extend_from_slice(b"{\"a\": 3}\n");
        for (what, bytes) in [("plain", text.clone()), ("gzip", gzip(&text))] {
            let (events, r) = read(&bytes, Layout::Lines);
            assert_eq!(r, Ok(()), "{what}");
            assert_eq!(events.len(), 3, "{what}");
            assert_eq!(events[0], Ok(serde_json::json!({"a": 1})));
            let why = events[1].as_ref().expect_err("skipped");
            assert_eq!(
                why,
                "line 2: the event: 2097163 bytes, more than the 1 MiB an EventBridge event can be: skipped",
                "{what}"
            );
            assert_eq!(events[2], Ok(serde_json::json!({"a": 3})), "{what}");
        }
        // At the limit it is read.
        let (events, _) = read(&padded_line(MAX_EVENT_BYTES - 11), Layout::Lines);
        assert!(events[0].is_ok());
    }

    /// A huge line is read past, never held: 256 MiB without a newline inside a string,
    /// made as it is read.
    #[test]
    fn a_huge_line_is_read_past_not_held() {
        let huge = std::io::repeat(b'x').take(256 << 20);
        let input = Cursor::new(&b"{\"s\": \""[..])
            .chain(huge)
            .chain(Cursor::new(&b"\"}\n{\"a\": 2}\n"[..]));
        let mut events = Vec::new();
        let (sizes, r) = read_events(input, Layout::Lines, &mut |e| events.push(e));
        assert_eq!(r, Ok(()));
        assert!(sizes.decoded > 256 << 20);
        assert!(
            events[0]
                .as_ref()
                .is_err_and(|e| e.contains("more than the 1 MiB"))
        );
        assert_eq!(events[1], Ok(serde_json::json!({"a": 2})));
    }

    #[test]
    fn oversized_record_in_a_cloudtrail_file_is_skipped() {
        let pad = "x".repeat(MAX_EVENT_BYTES);
        let doc = format!(
            r#"{{"Records": [{{"eventSource": "s3.amazonaws.com"}}, {{"eventSource": "s3.amazonaws.com", "pad": "{pad}"}}, {{"eventSource": "iam.amazonaws.com"}}]}}"#
        );
        for bytes in [doc.clone().into_bytes(), gzip(doc.as_bytes())] {
            // The general path and the fast path (records left raw) say the same.
            let (events, r) = read(&bytes, Layout::Document);
            assert_eq!(r, Ok(()));
            let mut raw = Vec::new();
            let (_, r) = read_items(&bytes[..], Layout::Document, true, &mut |item| {
                raw.push(match item {
                    Item::Raw(r) => serde_json::from_str(r.json).map_err(|e| e.to_string()),
                    Item::Event(e) => e,
                });
            });
            assert_eq!(r, Ok(()));
            assert_eq!(raw, events);
            assert_eq!(events.len(), 3);
            assert!(
                events[1]
                    .as_ref()
                    .is_err_and(|e| e.starts_with("record 2: 1048622 bytes")),
                "{:?}",
                events[1]
            );
        }
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
