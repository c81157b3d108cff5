//! What to read: the inputs behind each `SOURCE` argument (files, folders walked in name
//! order, `-` for stdin, `s3://bucket/prefix`), and the `--since` / `--until` window that
//! prunes them by the date in their path before anything is read.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::read::Layout;
use super::s3::S3;

/// One thing to read events from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File {
        path: PathBuf,
        size: u64,
    },
    Stdin,
    S3 {
        bucket: String,
        key: String,
        size: u64,
    },
}

impl Input {
    /// The name used in messages.
    pub fn name(&self) -> String {
        match self {
            Input::File { path, .. } => path.display().to_string(),
            Input::Stdin => "<stdin>".to_owned(),
            Input::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        }
    }

    /// Stdin is read as lines: a CloudTrail file is a single line, so `zcat f.json.gz |
    /// patrol replay -` works as well as NDJSON does.
    pub fn layout(&self) -> Layout {
        match self {
            Input::File { path, .. } => Layout::for_name(&path.to_string_lossy()),
            Input::Stdin => Layout::Lines,
            Input::S3 { key, .. } => Layout::for_name(key),
        }
    }

    pub fn size(&self) -> Option<u64> {
        match self {
            Input::File { size, .. } | Input::S3 { size, .. } => Some(*size),
            Input::Stdin => None,
        }
    }
}

/// The `--since` / `--until` window, inclusive. A bare date covers that whole day.
#[derive(Debug, Clone, Default)]
pub struct Window {
    since: Option<String>,
    until: Option<String>,
}

impl Window {
    pub fn new(since: Option<&str>, until: Option<&str>) -> anyhow::Result<Window> {
        for (flag, value) in [("--since", since), ("--until", until)] {
            if let Some(v) = value
                && !v.get(..10).is_some_and(patrol_core::date::is_date)
            {
                bail!(
                    "{flag} `{v}`: expected a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM:SSZ)"
                );
            }
        }
        Ok(Window {
            since: since.map(str::to_owned),
            until: until.map(str::to_owned),
        })
    }

    pub fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Whether an event time (`2023-07-10T12:23:15Z`) falls inside. An event without a
    /// time is kept: the window cannot say.
    pub fn contains_time(&self, time: &str) -> bool {
        if time.is_empty() {
            return true;
        }
        let after = self.since.as_deref().is_none_or(|s| time >= s);
        let before = self.until.as_deref().is_none_or(|u| {
            if u.len() == 10 {
                time.get(..10).is_some_and(|d| d <= u)
            } else {
                time <= u
            }
        });
        after && before
    }

    /// Whether a file whose path says it holds `lo..=hi` may hold events inside. CloudTrail
    /// files sit under the date they were delivered, up to a day after their events, so
    /// the end of the window stretches by a day.
    fn overlaps(&self, lo: &str, hi: &str) -> bool {
        let after = self
            .since
            .as_deref()
            .is_none_or(|s| hi >= s.get(..10).unwrap_or(s));
        let before = self
            .until
            .as_deref()
            .and_then(|u| u.get(..10))
            .is_none_or(|u| lo <= patrol_core::date::next_day(u).as_str());
        after && before
    }

    /// Whether an input (by its path or key) may hold events inside.
    pub fn keeps(&self, path: &str) -> bool {
        match path_dates(path) {
            Some((lo, hi)) => self.overlaps(&lo, &hi),
            None => true,
        }
    }
}

/// The dates a CloudTrail path covers: `…/CloudTrail/<region>/YYYY[/MM[/DD]]/…`, else the
/// `_YYYYMMDDTHHMMZ_` in a CloudTrail file name.
pub fn path_dates(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(i) = parts
        .iter()
        .position(|p| *p == "CloudTrail" || *p == "CloudTrail-Insight")
    {
        let rest = &parts[(i + 2).min(parts.len())..];
        match rest {
            [y, m, d, ..] if digits(y, 4) && digits(m, 2) && digits(d, 2) => {
                let day = format!("{y}-{m}-{d}");
                return Some((day.clone(), day));
            }
            [y, m, ..] if digits(y, 4) && digits(m, 2) => {
                return Some((format!("{y}-{m}-01"), format!("{y}-{m}-31")));
            }
            [y, ..] if digits(y, 4) => {
                return Some((format!("{y}-01-01"), format!("{y}-12-31")));
            }
            _ => {}
        }
    }
    let name = parts.last()?;
    name.split('_').find_map(|field| {
        let stamp = field.strip_suffix('Z')?;
        let (date, time) = stamp.split_once('T')?;
        (digits(date, 8) && digits(time, 4)).then(|| {
            let day = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]);
            (day.clone(), day)
        })
    })
}

/// Files in a folder that hold events; CloudTrail's digest files do not.
fn is_event_file(p: &Path) -> bool {
    let name = p.to_string_lossy();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Appends the inputs behind one `SOURCE` argument, skipping (and counting in `pruned`)
/// those the window rules out by their path.
pub fn expand(
    source: &str,
    window: &Window,
    s3: &mut Option<S3>,
    out: &mut Vec<Input>,
    pruned: &mut u64,
) -> anyhow::Result<()> {
    if source == "-" {
        out.push(Input::Stdin);
        return Ok(());
    }
    if let Some(rest) = source.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("`{source}`: expected s3://bucket/prefix");
        }
        let client = match s3 {
            Some(c) => c,
            None => s3.insert(S3::connect()?),
        };
        for (key, size) in client.list(bucket, prefix)? {
            if key.contains("/CloudTrail-Digest/") || !is_event_file(Path::new(&key)) {
                continue;
            }
            if !window.keeps(&key) {
                *pruned += 1;
                continue;
            }
            out.push(Input::S3 {
                bucket: bucket.to_owned(),
                key,
                size,
            });
        }
        return Ok(());
    }
    let path = Path::new(source);
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read `{source}`"))?;
    if meta.is_dir() {
        walk(path, window, out, pruned).with_context(|| format!("cannot read `{source}`"))
    } else {
        if window.keeps(source) {
            out.push(Input::File {
                path: path.to_owned(),
                size: meta.len(),
            });
        } else {
            *pruned += 1;
        }
        Ok(())
    }
}

fn walk(
    dir: &Path,
    window: &Window,
    out: &mut Vec<Input>,
    pruned: &mut u64,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            if entry.file_name() != "CloudTrail-Digest" {
                walk(&path, window, out, pruned)?;
            }
        } else if is_event_file(&path) {
            if window.keeps(&path.to_string_lossy()) {
                out.push(Input::File {
                    path,
                    size: meta.len(),
                });
            } else {
                *pruned += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_come_from_the_cloudtrail_layout_or_the_file_name() {
        let day = |d: &str| Some((d.to_owned(), d.to_owned()));
        assert_eq!(
            path_dates("x/AWSLogs/1/CloudTrail/us-east-1/2023/07/10/a.json.gz"),
            day("2023-07-10")
        );
        assert_eq!(
            path_dates("AWSLogs/1/CloudTrail/us-east-1/2023/07"),
            Some(("2023-07-01".into(), "2023-07-31".into()))
        );
        assert_eq!(
            path_dates("1_CloudTrail_us-east-1_20230710T1145Z_abc.json"),
            day("2023-07-10")
        );
        assert_eq!(path_dates("tests/events/root.json"), None);
    }

    #[test]
    fn window_prunes_paths_and_keeps_a_day_of_late_delivery() -> anyhow::Result<()> {
        let w = Window::new(Some("2023-07-10"), Some("2023-07-31"))?;
        let p = |d: &str| format!("AWSLogs/1/CloudTrail/eu-west-1/{d}/f.json.gz");
        assert!(!w.keeps(&p("2023/07/09")));
        assert!(w.keeps(&p("2023/07/10")));
        assert!(w.keeps(&p("2023/08/01")));
        assert!(!w.keeps(&p("2023/08/02")));
        assert!(w.keeps("tests/events/root.json"));
        assert!(w.contains_time("2023-07-31T23:59:59Z"));
        assert!(!w.contains_time("2023-08-01T00:00:00Z"));
        assert!(!w.contains_time("2023-07-09T23:59:59Z"));
        Ok(())
    }

    #[test]
    fn bad_window_dates_are_usage_errors() {
        assert!(Window::new(Some("yesterday"), None).is_err());
        assert!(Window::new(None, Some("2023-07-10T00:00:00Z")).is_ok());
    }
}
