//! A manifest's text in, diagnostics out: validation never panics, every diagnostic
//! renders (its span inside the text, on a char boundary), and a manifest that validates
//! has a normalized form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use patrol_core::diagnostic::render_all;
use patrol_core::manifest::{ValidateOptions, validate_str_with_warnings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = ValidateOptions {
        today: Some("2024-06-01".to_owned()),
        ..ValidateOptions::default()
    };
    let diagnostics = match validate_str_with_warnings(text, "rules.toml", &options) {
        Ok((manifest, warnings)) => {
            // Every valid manifest also has its rules' delivery patterns.
            for rule in &manifest.rules {
                let _ = rule.trigger.delivery_pattern();
            }
            warnings
        }
        Err(diagnostics) => {
            assert!(
                diagnostics.iter().any(|d| d.is_error()),
                "rejected without an error: {diagnostics:?}"
            );
            diagnostics
        }
    };
    for d in &diagnostics {
        if let Some(span) = &d.span {
            assert!(span.start <= span.end && span.end <= text.len(), "{d:?}");
        }
    }
    let rendered = render_all(&diagnostics, "rules.toml", text);
    assert!(rendered.ends_with('\n'));
});
