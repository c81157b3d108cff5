//! Replays of the fixture archive (`tests/fixtures/replay/`, real records in CloudTrail's
//! S3 layout plus broken files) through the shipped `rules.toml`.

use super::*;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    workspace().join("tests/fixtures/replay")
}

fn engine() -> anyhow::Result<Engine> {
    match crate::commands::load::manifest(&workspace().join("rules.toml"))? {
        Ok(m) => Ok(Engine::new(&m)?),
        Err(code) => bail!("rules.toml does not validate: {code:?}"),
    }
}

struct Run {
    summary: Summary,
    alerts: Vec<Alert>,
    warnings: Vec<String>,
}

fn replay(sources: &[PathBuf], window: &Window, jobs: usize) -> anyhow::Result<Run> {
    let sources: Vec<String> = sources
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    replay_from(&sources, window, jobs, None, true)
}

/// `fast`: records of the usual CloudTrail file left raw and prefiltered, as `run` does.
fn replay_from(
    sources: &[String],
    window: &Window,
    jobs: usize,
    s3: Option<S3>,
    fast: bool,
) -> anyhow::Result<Run> {
    let engine = engine()?;
    let manifest = match crate::commands::load::manifest(&workspace().join("rules.toml"))? {
        Ok(m) => m,
        Err(code) => bail!("rules.toml does not validate: {code:?}"),
    };
    let mut inputs = Vec::new();
    let mut pruned = 0;
    let mut s3 = s3;
    for s in sources {
        source::expand(s, window, &mut s3, &mut inputs, &mut pruned)?;
    }
    let worker = Worker {
        engine: &engine,
        fast,
        window,
        s3: s3.as_ref(),
        keep_alerts: true,
    };
    let mut run = Run {
        summary: Summary {
            pruned_files: pruned,
            ..Summary::default()
        },
        alerts: Vec::new(),
        warnings: Vec::new(),
    };
    let prefix = format!("{}/", fixtures().display());
    let bucket = "s3://trail-logs/org/";
    worker.replay_all(&inputs, jobs, &mut |r| {
        run.alerts.extend(r.alerts);
        run.warnings.extend(
            r.warnings
                .iter()
                .map(|w| w.replace(&prefix, "").replace(bucket, "archive/")),
        );
        run.summary.merge(r.summary);
        Ok(())
    })?;
    run.summary.apply_dedup(&super::dedup_windows(&manifest));
    Ok(run)
}

fn archive() -> PathBuf {
    fixtures().join("archive")
}

#[test]
fn archive_summary() -> anyhow::Result<()> {
    let run = replay(&[archive()], &Window::default(), 2)?;
    insta::assert_snapshot!("archive_table", run.summary.to_table());
    insta::assert_snapshot!("archive_warnings", run.warnings.join("\n"));
    insta::assert_json_snapshot!("archive_json", run.summary.to_json());
    Ok(())
}

#[test]
fn broken_files_are_counted_and_the_rest_is_replayed() -> anyhow::Result<()> {
    let run = replay(&[archive()], &Window::default(), 1)?;
    let s = &run.summary;
    // Truncated gzip, not JSON, JSON without `Records`; the digest file is not read.
    assert_eq!(s.bad_files, 3, "{:#?}", run.warnings);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("truncated.json.gz: truncated or corrupt gzip")),
        "{:#?}",
        run.warnings
    );
    // No `eventSource`, a number where a record should be, and a 4 MiB record (over
    // EventBridge's 1 MiB limit: skipped, not held).
    assert_eq!(s.bad_records, 4, "{:#?}", run.warnings);
    assert!(
        run.warnings.iter().any(
            |w| w.contains("odd-records.json.gz: record 4: 4196934 bytes, more than the 1 MiB")
        ),
        "{:#?}",
        run.warnings
    );
    assert_eq!(s.incomplete_records, 2);
    assert!(!run.warnings.iter().any(|w| w.contains("CloudTrail-Digest")));
    Ok(())
}

#[test]
fn one_worker_and_two_give_the_same_alerts_in_the_same_order() -> anyhow::Result<()> {
    let one = replay(&[archive()], &Window::default(), 1)?;
    let two = replay(&[archive()], &Window::default(), 2)?;
    assert_eq!(one.summary, two.summary);
    assert_eq!(one.alerts, two.alerts);
    assert_eq!(one.warnings, two.warnings);
    Ok(())
}

#[test]
fn since_and_until_prune_files_by_path_and_events_by_time() -> anyhow::Result<()> {
    let window = Window::new(Some("2023-07-10"), Some("2023-07-10"))?;
    let run = replay(&[archive()], &window, 2)?;
    let s = &run.summary;
    assert!(s.pruned_files > 20, "{}", s.pruned_files);
    assert_eq!(s.files, 6, "only 2023/07/10 (and 07/11, for late delivery)");
    assert_eq!(s.bad_files, 0);
    assert_eq!(s.days.keys().collect::<Vec<_>>(), ["2023-07-10"]);
    assert!(run.alerts.iter().all(|a| {
        a.time
            .as_deref()
            .is_some_and(|t| t.starts_with("2023-07-10"))
    }));
    assert!(s.alerts() > 0);
    Ok(())
}

#[test]
fn eventbridge_ndjson_raises_what_the_raw_records_raise() -> anyhow::Result<()> {
    let wrapped = replay(
        &[fixtures().join("eventbridge.ndjson")],
        &Window::default(),
        1,
    )?;
    let raw = replay(&[archive()], &Window::default(), 1)?;
    assert_eq!(wrapped.summary.bad_records, 0);
    assert!(!wrapped.alerts.is_empty());
    for a in &wrapped.alerts {
        assert!(
            raw.alerts.contains(a),
            "{} {:?} not raised from the raw record",
            a.rule,
            a.event_id
        );
    }
    Ok(())
}

#[test]
fn rule_filter_keeps_only_the_named_rules() -> anyhow::Result<()> {
    let mut m = match crate::commands::load::manifest(&workspace().join("rules.toml"))? {
        Ok(m) => m,
        Err(code) => bail!("rules.toml does not validate: {code:?}"),
    };
    m.rules.retain(|r| r.id == "unauthorized-api-call");
    let engine = Engine::new(&m)?;
    let worker = Worker {
        engine: &engine,
        fast: true,
        window: &Window::default(),
        s3: None,
        keep_alerts: true,
    };
    let mut inputs = Vec::new();
    source::expand(
        &archive().to_string_lossy(),
        &Window::default(),
        &mut None,
        &mut inputs,
        &mut 0,
    )?;
    let mut total = Summary::default();
    worker.replay_all(&inputs, 2, &mut |r| {
        total.merge(r.summary);
        Ok(())
    })?;
    assert_eq!(
        total.rules.keys().collect::<Vec<_>>(),
        ["unauthorized-api-call"]
    );
    Ok(())
}

#[test]
fn read_event_file_reads_single_events_and_records_files() {
    let events = read_event_file(&fixtures().join("eventbridge.ndjson"));
    assert!(events.len() > 5 && events.iter().all(Result::is_ok));
    let missing = read_event_file(&fixtures().join("no-such-file.json"));
    assert!(matches!(&missing[..], [Err(e)] if e.starts_with("cannot read")));
}

/// The shared corpus, when it is there: the README's figure.
#[test]
fn corpus_raises_262_alerts() -> anyhow::Result<()> {
    let corpus = workspace().join("../shared/corpus/cloudtrail-records.jsonl");
    if !corpus.is_file() {
        return Ok(());
    }
    let run = replay(&[corpus], &Window::default(), 2)?;
    assert_eq!(run.summary.events, 3290);
    assert_eq!(run.summary.alerts(), 262);
    assert_eq!(run.summary.bad_records, 0);
    Ok(())
}

#[test]
fn s3_archive_replays_like_the_local_folder() -> anyhow::Result<()> {
    let Some((_moto, port)) = s3::tests::archive_in_moto()? else {
        return Ok(());
    };
    for window in [
        Window::default(),
        Window::new(Some("2023-07-10"), Some("2023-07-10"))?,
    ] {
        let local = replay(&[archive()], &window, 2)?;
        let remote = replay_from(
            &["s3://trail-logs/org/".to_owned()],
            &window,
            2,
            Some(s3::tests::client(port)?),
            true,
        )?;
        assert_eq!(local.summary.to_json(), remote.summary.to_json());
        assert_eq!(local.alerts, remote.alerts);
        assert_eq!(local.warnings, remote.warnings);
    }
    Ok(())
}

fn same_run(a: &Run, b: &Run) {
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.alerts, b.alerts);
    assert_eq!(a.warnings, b.warnings);
}

#[test]
fn fast_path_gives_what_the_general_path_gives() -> anyhow::Result<()> {
    let archive = [archive().to_string_lossy().into_owned()];
    for window in [
        Window::default(),
        Window::new(Some("2023-07-10"), Some("2023-07-10T12:00:00Z"))?,
    ] {
        let fast = replay_from(&archive, &window, 2, None, true)?;
        let general = replay_from(&archive, &window, 2, None, false)?;
        same_run(&fast, &general);
    }
    Ok(())
}

/// Every record of the shared corpus (odd ones included) in one CloudTrail file.
#[test]
fn fast_path_gives_what_the_general_path_gives_on_the_corpus() -> anyhow::Result<()> {
    let corpus = workspace().join("../shared/corpus/cloudtrail-records.jsonl");
    if !corpus.is_file() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&corpus)?;
    let records: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let path =
        std::env::temp_dir().join(format!("patrol-replay-corpus-{}.json", std::process::id()));
    std::fs::write(&path, format!("{{\"Records\": [{}]}}", records.join(",\n")))?;
    let source = [path.to_string_lossy().into_owned()];
    let fast = replay_from(&source, &Window::default(), 1, None, true);
    let general = replay_from(&source, &Window::default(), 1, None, false);
    let _ = std::fs::remove_file(&path);
    let (fast, general) = (fast?, general?);
    assert_eq!(fast.summary.events, 3290);
    assert_eq!(fast.summary.alerts(), 262);
    same_run(&fast, &general);
    Ok(())
}

/// Records whose head fields are odd in every way the head index must not be fooled by
/// (a top-level `userIdentity.type` name, arrays and objects where strings are expected,
/// escaped names, missing fields): the fast path raises exactly what the general path
/// raises, and the odd records do raise alerts.
#[test]
fn fast_path_is_not_fooled_by_odd_head_fields() -> anyhow::Result<()> {
    let base = r#""eventTime": "2024-03-01T10:00:00Z", "awsRegion": "us-east-1", "eventID": "e-N", "recipientAccountId": "111122223333", "eventType": "AwsApiCall", "sourceIPAddress": "203.0.113.9""#;
    let records = [
        // Root, seen only through a dotted top-level name.
        r#"{"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "userIdentity.type": "Root", BASE}"#,
        // Root inside an array of identities.
        r#"{"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "userIdentity": [{"type": "Root"}], BASE}"#,
        // Denied, with the error code in an array, and escaped in a name.
        r#"{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "errorCode": ["AccessDenied"], "userIdentity": {"type": "IAMUser"}, BASE}"#,
        r#"{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "error\u0043ode": "AccessDeniedException", "userIdentity": {"type": "IAMUser"}, BASE}"#,
        // A rule's event name in an array, and escaped.
        r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": ["StopLogging"], "userIdentity": {"type": "IAMUser"}, BASE}"#,
        r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": "Stop\u004cogging", "userIdentity": {"type": "IAMUser"}, BASE}"#,
        // Root with the identity's type repeated (the last counts).
        r#"{"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "userIdentity": {"type": "IAMUser", "type": "Root"}, BASE}"#,
        // Nothing to see: no name, no identity, a number for the error code.
        r#"{"eventSource": "s3.amazonaws.com", "errorCode": 403, BASE}"#,
        r#"{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "userIdentity": {"type": "IAMUser"}, BASE}"#,
    ];
    let doc = format!(
        "{{\"Records\": [{}]}}",
        records
            .iter()
            .enumerate()
            .map(|(i, r)| r.replace("BASE", &base.replace("e-N", &format!("e-{i}"))))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let path = std::env::temp_dir().join(format!("patrol-replay-odd-{}.json", std::process::id()));
    std::fs::write(&path, doc)?;
    let source = [path.to_string_lossy().into_owned()];
    let fast = replay_from(&source, &Window::default(), 1, None, true);
    let general = replay_from(&source, &Window::default(), 1, None, false);
    let _ = std::fs::remove_file(&path);
    let (fast, general) = (fast?, general?);
    same_run(&fast, &general);
    let ids: Vec<&str> = fast
        .alerts
        .iter()
        .filter_map(|a| a.event_id.as_deref())
        .collect();
    for raised in ["e-0", "e-1", "e-2", "e-3", "e-4", "e-5", "e-6"] {
        assert!(ids.contains(&raised), "{raised} raised nothing: {ids:?}");
    }
    assert!(!ids.contains(&"e-8"), "{ids:?}");
    Ok(())
}

/// Regression (issue #16): an S3 object was collected whole before a byte of it was read,
/// and a line of any size was held. Now the object streams and the 2 MiB line (over
/// EventBridge's 1 MiB limit) is skipped with a warning, plain or gzipped.
#[test]
fn s3_objects_stream_and_oversized_lines_are_skipped() -> anyhow::Result<()> {
    let Some((_moto, port)) = s3::tests::archive_in_moto()? else {
        return Ok(());
    };
    let event = std::fs::read_to_string(fixtures().join("eventbridge.ndjson"))?;
    let first = event.lines().next().unwrap_or_default();
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(2 << 20));
    let text = format!("{first}\n{huge}\n{first}\n");
    s3::tests::put(port, "/trail-logs/big/events.ndjson", text.as_bytes())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes())?;
    s3::tests::put(port, "/trail-logs/big/events.ndjson.gz", &gz.finish()?)?;
    let run = replay_from(
        &["s3://trail-logs/big/".to_owned()],
        &Window::default(),
        2,
        Some(s3::tests::client(port)?),
        true,
    )?;
    assert_eq!(run.summary.events, 4, "{:#?}", run.warnings);
    assert_eq!(run.summary.bad_records, 2);
    assert_eq!(
        run.warnings,
        [
            "warning: s3://trail-logs/big/events.ndjson: line 2: the event: 2097163 bytes, more than the 1 MiB an EventBridge event can be: skipped",
            "warning: s3://trail-logs/big/events.ndjson.gz: line 2: the event: 2097163 bytes, more than the 1 MiB an EventBridge event can be: skipped",
        ]
    );
    Ok(())
}
