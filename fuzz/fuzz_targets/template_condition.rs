//! Templates and CEL conditions compiled from the input, then rendered and evaluated on an
//! arbitrary event. Input: the template, a NUL, the condition, a NUL, the event's JSON.
//! Whatever the event holds, a template that passed `check` renders or says why not, and
//! a condition that compiled evaluates or says why not: neither panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use patrol_core::condition::Condition;
use patrol_core::template;
use serde_json::{Map, Value, json};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (Some(tmpl), Some(cond), Some(event)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let (Ok(tmpl), Ok(cond)) = (std::str::from_utf8(tmpl), std::str::from_utf8(cond)) else {
        return;
    };
    let event: Value = serde_json::from_slice(event).unwrap_or_else(|_| json!({}));
    let mut params = Map::new();
    params.insert("threshold".into(), json!(3));
    let ctx = template::context(
        &event,
        json!({"id": "fuzz-rule", "severity": "high", "description": "fuzzing"}),
        &params,
    );
    // Templates are written by the manifest's author; the event is anyone's. Loops over
    // `range` are the author's to keep small, so they are left out here.
    if tmpl.len() <= 512 && !tmpl.contains("range") && template::check(tmpl).is_empty() {
        let _ = template::render(tmpl, &ctx);
        let _ = template::render_shared(tmpl, &std::sync::Arc::new(ctx.clone()));
    }
    if cond.len() <= 512
        && let Ok(c) = Condition::compile(cond)
    {
        let _ = c.eval(&ctx);
    }
});
