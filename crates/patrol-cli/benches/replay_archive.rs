//! Builds the archive `replay-bench.sh` replays: CloudTrail's S3 layout
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<stamp>_<id>.json.gz`,
//! each file `{"Records": [...]}`) of at least `PATROL_BENCH_REPLAY_MB` MiB decompressed
//! (default 2048), made from the real records of the shared corpus, each copy given its own
//! eventID, time, account, region, actor and source address so that no two files are alike.
//!
//! Deterministic: the same size gives the same bytes, whatever the number of threads. Skips
//! the work when the folder already holds an archive of that size (its marker file says so).
//!
//! Run: `cargo bench -p patrol-cli --bench replay-archive -- target/bench-data/replay`
//! (`PATROL_CORPUS` points at another records file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

/// Says what the folder holds; the archive is complete only once it is written.
const MARKER: &str = "bench-archive.txt";
/// Bumped whenever the generator's output changes, so old archives are rebuilt.
const VERSION: u32 = 1;

const ACCOUNTS: [&str; 6] = [
    "111122223333",
    "222233334444",
    "333344445555",
    "444455556666",
    "555566667777",
    "666677778888",
];
const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"];
/// Events fall on `DAYS` days from 2024-03-01.
const DAYS: u64 = 21;
const ACTORS: [&str; 12] = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "deploy-bot",
    "ci-runner",
];

fn corpus_path() -> String {
    std::env::var("PATROL_CORPUS").unwrap_or_else(|_| {
        format!(
            "{}/../../../shared/corpus/cloudtrail-records.jsonl",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

/// SplitMix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One file of the archive: where it goes and what it holds (records drawn from `seed`).
struct Planned {
    path: PathBuf,
    seed: u64,
    records: usize,
    account: &'static str,
    region: &'static str,
    /// Seconds since 2024-03-01T00:00:00Z of the file's delivery.
    delivered: u64,
}

fn plan(corpus: &[(Value, usize)], target: u64) -> Vec<Planned> {
    let mut rng = Rng::new(VERSION.into());
    let mut files = Vec::new();
    let mut estimate = 0u64;
    // A little over the target: copies differ slightly in length from their originals.
    while estimate < target + target / 50 {
        let seed = rng.next();
        let records = 20 + rng.below(1000) as usize;
        let account = *rng.pick(&ACCOUNTS);
        let region = *rng.pick(&REGIONS);
        let delivered = rng.below(DAYS * 86_400);
        let mut picks = Rng::new(seed);
        estimate += (0..records)
            .map(|_| corpus[picks.below(corpus.len() as u64) as usize].1 as u64 + 1)
            .sum::<u64>();
        let (day, hhmm) = (delivered / 86_400 + 1, delivered % 86_400 / 60);
        let mut id = Rng::new(seed ^ 1);
        let suffix: String = (0..16)
            .map(|_| char::from(*id.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")))
            .collect();
        let path = PathBuf::from(format!(
            "AWSLogs/{account}/CloudTrail/{region}/2024/03/{day:02}/{account}_CloudTrail_{region}_202403{day:02}T{:02}{:02}Z_{suffix}.json.gz",
            hhmm / 60,
            hhmm % 60
        ));
        files.push(Planned {
            path,
            seed,
            records,
            account,
            region,
            delivered,
        });
    }
    files
}

fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next(), rng.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn time(secs: u64) -> String {
    let (day, s) = (secs / 86_400 + 1, secs % 86_400);
    format!(
        "2024-03-{day:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `arn:aws:iam::<account>:...` with the account replaced (and the user, for users).
fn arn(arn: &str, account: &str, actor: &str) -> String {
    let mut parts: Vec<String> = arn.splitn(6, ':').map(str::to_owned).collect();
    if parts.len() == 6 && parts[4].len() == 12 {
        parts[4] = account.to_owned();
        if parts[5].starts_with("user/") {
            parts[5] = format!("user/{actor}");
        }
    }
    parts.join(":")
}

/// A copy of `record` as if another actor had done it, elsewhere and at another time.
fn vary(record: &Value, rng: &mut Rng, file: &Planned) -> Value {
    let mut r = record.clone();
    let Some(obj) = r.as_object_mut() else {
        return r;
    };
    let actor = *rng.pick(&ACTORS);
    obj.insert("eventID".into(), uuid(rng).into());
    // CloudTrail delivers within about 15 minutes of the event, on the event's day here.
    let lag = rng.below(900).min(file.delivered % 86_400);
    obj.insert("eventTime".into(), time(file.delivered - lag).into());
    if obj.contains_key("awsRegion") {
        obj.insert("awsRegion".into(), file.region.into());
    }
    if obj.contains_key("recipientAccountId") {
        obj.insert("recipientAccountId".into(), file.account.into());
    }
    if let Some(Value::String(ip)) = obj.get_mut("sourceIPAddress")
        && ip.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        let net = *rng.pick(&["192.0.2", "198.51.100", "203.0.113"]);
        *ip = format!("{net}.{}", 1 + rng.below(254));
    }
    if let Some(Value::Object(who)) = obj.get_mut("userIdentity") {
        if who.contains_key("accountId") {
            who.insert("accountId".into(), file.account.into());
        }
        if who.get("type").and_then(Value::as_str) == Some("IAMUser") {
            who.insert("userName".into(), actor.into());
        }
        if let Some(Value::String(a)) = who.get_mut("arn") {
            *a = arn(a, file.account, actor);
        }
    }
    r
}

/// The file's bytes, decompressed.
fn render(corpus: &[(Value, usize)], file: &Planned) -> Vec<u8> {
    let mut picks = Rng::new(file.seed);
    let mut rng = Rng::new(file.seed ^ 2);
    let mut out = Vec::with_capacity(file.records * 1400);
    out.extend_from_slice(b"{\"Records\":[");
    for i in 0..file.records {
        if i > 0 {
            out.push(b',');
        }
        let (record, _) = &corpus[picks.below(corpus.len() as u64) as usize];
        serde_json::to_writer(&mut out, &vary(record, &mut rng, file)).unwrap();
    }
    out.extend_from_slice(b"]}");
    out
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-data/replay"));
    let mib: u64 = std::env::var("PATROL_BENCH_REPLAY_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2048);
    let target = mib << 20;
    let header = format!("patrol replay bench archive v{VERSION}, target {target} bytes");
    if let Ok(marker) = std::fs::read_to_string(dir.join(MARKER))
        && marker.lines().next() == Some(header.as_str())
    {
        eprintln!("{}: up to date ({})", dir.display(), marker.trim());
        return;
    }
    let started = Instant::now();
    let text = std::fs::read_to_string(corpus_path()).unwrap_or_else(|e| {
        panic!(
            "the CloudTrail corpus {} (set PATROL_CORPUS): {e}",
            corpus_path()
        )
    });
    let corpus: Vec<(Value, usize)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| (serde_json::from_str(l).expect("corpus line"), l.len()))
        .collect();
    let files = plan(&corpus, target);
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let (next, plain, stored) = (AtomicUsize::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let records = AtomicU64::new(0);
    let jobs = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let bytes = render(&corpus, file);
                    let path = partial.join(&file.path);
                    std::fs::create_dir_all(path.parent().expect("a parent")).unwrap();
                    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
                    gz.write_all(&bytes).unwrap();
                    let gz = gz.finish().unwrap();
                    std::fs::write(&path, &gz).unwrap();
                    plain.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    stored.fetch_add(gz.len() as u64, Ordering::Relaxed);
                    records.fetch_add(file.records as u64, Ordering::Relaxed);
                }
            });
        }
    });
    let (plain, stored, records) = (
        plain.into_inner(),
        stored.into_inner(),
        records.into_inner(),
    );
    assert!(
        plain >= target,
        "{plain} bytes < {target}: raise the plan's margin"
    );
    let summary = format!(
        "{header}\nfiles {}\nrecords {records}\ndecompressed {plain}\nstored {stored}\n",
        files.len()
    );
    std::fs::write(partial.join(MARKER), &summary).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir).unwrap();
    eprintln!(
        "{}: {} files, {records} records, {:.0} MB ({:.0} MB gzipped) in {:.1}s",
        dir.display(),
        files.len(),
        plain as f64 / 1e6,
        stored as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
}
