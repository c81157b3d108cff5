//! IAM and resource policies as CloudTrail carries them (an object, a JSON string, a
//! percent-encoded string): parsing never panics, and the questions conditions ask of a
//! parsed policy (public? which accounts? does it grant this?) always answer.
//! Input: the policy's JSON, a NUL, then actions and resources, one per line
//! (resources after an empty line).

#![no_main]

use libfuzzer_sys::fuzz_target;
use patrol_core::policy::{PolicyDocument, arn_glob};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (doc, asks) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let asks = String::from_utf8_lossy(asks);
    let (actions, resources) = asks.split_once("\n\n").unwrap_or((&asks, ""));
    let actions: Vec<String> = actions.lines().map(str::to_owned).collect();
    let resources: Vec<String> = resources.lines().map(str::to_owned).collect();
    let value = match serde_json::from_slice::<Value>(doc) {
        Ok(v) => v,
        // Also as IAM's `policyDocument`: the text as a (maybe percent-encoded) string.
        Err(_) => Value::String(String::from_utf8_lossy(doc).into_owned()),
    };
    if let Ok(policy) = PolicyDocument::parse(&value) {
        let public = policy.is_public();
        let external = policy.external_accounts(&["111122223333".to_owned()]);
        assert!(!public || external.iter().any(|a| a == "*"), "{value}");
        let _ = policy.grants(&actions, &resources);
    }
    for a in &actions {
        for r in &resources {
            let o = arn_glob::overlaps(a, r, true);
            assert_eq!(o, arn_glob::overlaps(r, a, true), "{a:?} {r:?}");
            if arn_glob::covers(a, r, false) {
                assert!(arn_glob::overlaps(a, r, false), "{a:?} covers {r:?}");
            }
            let _ = arn_glob::has_wildcard(a);
        }
    }
});
