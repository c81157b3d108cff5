//! Pattern parsing and matching never panic, and the compiled matcher agrees with the
//! reference interpreter. Input: the pattern's JSON text, a newline, then the event's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use patrol_core::pattern::{Matcher, Pattern};

fuzz_target!(|data: &[u8]| {
    let (pattern, event) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    let Ok(pattern) = std::str::from_utf8(pattern) else {
        return;
    };
    let Ok(p) = Pattern::parse_str(pattern) else {
        return;
    };
    // The normalized form is a valid pattern too.
    let again = Pattern::parse(&p.to_json());
    assert!(
        again.is_ok(),
        "to_json of {pattern} is rejected: {:?}",
        again.err()
    );
    let m = Matcher::new(std::slice::from_ref(&p));
    let from_bytes = m.matches_json(event);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(event) {
        let reference = p.matches(&value);
        assert_eq!(
            m.matches(&value).len() == 1,
            reference,
            "Matcher disagrees on {pattern} / {value}"
        );
        assert_eq!(p.explain(&value).is_ok(), reference);
        if value.is_object() {
            assert!(from_bytes.is_ok(), "valid event rejected: {from_bytes:?}");
        }
    }
});
