//! `patrol replay`'s readers: a file's name (first line: its S3 key or path) and its bytes
//! (the rest: gzip or not, a CloudTrail `{"Records": [...]}` file, NDJSON, anything).
//! Never panics; the fast path (records left raw) hands out exactly what the general path
//! does; on valid JSON the streaming splitter gives the events serde_json's own parse
//! gives; the CloudTrail layout's dates come out of any name.
//!
//! The CLI has no library target, so its reader modules are compiled in here from their
//! sources, with an S3 stub (the real client is never called by what is fuzzed).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// What the reader modules take from their parent (`commands/replay/mod.rs`).
pub type ReadEvent = Result<serde_json::Value, String>;

#[allow(dead_code)]
#[path = "../../crates/patrol-cli/src/commands/replay/raw.rs"]
mod raw;
#[allow(dead_code)]
#[path = "../../crates/patrol-cli/src/commands/replay/read.rs"]
mod read;
#[allow(dead_code)]
#[path = "../../crates/patrol-cli/src/commands/replay/source.rs"]
mod source;
#[allow(dead_code)]
#[path = "../../crates/patrol-cli/src/commands/replay/split.rs"]
mod split;

mod s3 {
    #[derive(Debug)]
    pub struct S3;
    impl S3 {
        pub fn connect() -> anyhow::Result<S3> {
            anyhow::bail!("no S3 while fuzzing")
        }
        pub fn list(&self, _: &str, _: &str) -> anyhow::Result<Vec<(String, u64)>> {
            Ok(Vec::new())
        }
    }
}

use read::{Item, Layout, read_events, read_items};
use source::{Window, path_dates};
use split::{MAX_EVENT_BYTES, split};

fuzz_target!(|data: &[u8]| {
    let (name, content) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            &data[i + 1..],
        ),
        None => (String::new(), data),
    };

    // Names: the dates a path covers, and the window that prunes by them.
    if let Some((lo, hi)) = path_dates(&name) {
        assert!(lo <= hi, "{name}: {lo} > {hi}");
    }
    if let Ok(w) = Window::new(Some("2023-07-10"), Some("2023-07-10T12:00:00Z")) {
        let _ = w.keeps(&name);
        let _ = w.contains_time(&name);
    }
    let layout = Layout::for_name(&name);

    // The general path, then the fast path: the same events.
    let mut general = Vec::new();
    let (_, general_result) = read_events(content, layout, &mut |e| general.push(e));
    let mut fast = Vec::new();
    let (_, fast_result) = read_items(content, layout, true, &mut |item| {
        fast.push(match item {
            Item::Raw(r) => serde_json::from_str::<Value>(r.json).map_err(|e| e.to_string()),
            Item::Event(e) => e,
        })
    });
    assert_eq!(general, fast, "fast path differs");
    assert_eq!(general_result, fast_result);

    // The splitter on valid JSON: what serde_json reads.
    if let Ok(v) = serde_json::from_slice::<Value>(content) {
        let mut events = Vec::new();
        let r = split(&mut &content[..], MAX_EVENT_BYTES, &mut |e| events.push(e));
        match &v {
            Value::Array(items) => {
                assert!(r.is_ok(), "{r:?}");
                let got: Vec<Value> = events.into_iter().map(|e| e.expect("event")).collect();
                assert_eq!(&got, items);
            }
            Value::Object(m) if !m.contains_key("Records") => {
                assert!(r.is_ok(), "{r:?}");
                assert_eq!(events, vec![Ok(v.clone())]);
            }
            Value::Object(_) => {}
            _ => assert!(r.is_err()),
        }
    }
    // A small limit: events over it are skipped, never a panic.
    let _ = split(&mut &content[..], 64, &mut |_| {});
});
