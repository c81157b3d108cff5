//! Numbers, exactly: EventBridge compares numbers as IEEE-754 doubles, so a literal is
//! usable only when a double holds it exactly. "Exactly" here means the literal's decimal
//! value equals the shortest round-trip decimal of the double it parses to: `0.1`, `3e2`
//! and `300.000` are fine, `9007199254740993`, `1e400` and `1e-400` are not.

/// Parses a JSON number literal; `None` when it is not valid JSON number syntax.
pub(crate) fn parse_literal(text: &str) -> Option<f64> {
    if !is_json_number(text.as_bytes()) {
        return None;
    }
    text.parse::<f64>().ok()
}

/// The literal's value when a double holds it exactly, else `None`.
pub(crate) fn exact_value(text: &str) -> Option<f64> {
    let value = parse_literal(text)?;
    if !value.is_finite() {
        return None;
    }
    // Fast path: any decimal of at most 15 significant digits (DBL_DIG) inside the
    // normal range survives the trip to a double and back.
    if value != 0.0 && (1e-300..=1e300).contains(&value.abs()) && significant_digits(text) <= 15 {
        return Some(value);
    }
    let shortest = format!("{value:e}");
    if normalize(text) == normalize(&shortest) {
        Some(value)
    } else {
        None
    }
}

/// The exact value of a `serde_json::Number`. Integers are checked against the double
/// they become; floats were already rounded by serde_json (its parser cannot tell us
/// whether the literal was exact), so they are taken as they are.
pub(crate) fn exact_from_json(n: &serde_json::Number) -> Option<f64> {
    if let Some(u) = n.as_u64() {
        return exact_value(&u.to_string());
    }
    if let Some(i) = n.as_i64() {
        return exact_value(&i.to_string());
    }
    n.as_f64().filter(|f| f.is_finite())
}

/// An upper bound on the significant digits of a valid literal (trailing zeros count).
fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let digits = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|d| *d == b'0');
    digits.count()
}

/// JSON number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
pub(crate) fn is_json_number(b: &[u8]) -> bool {
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// A decimal literal as (negative, significant digits without leading/trailing zeros,
/// exponent of the last digit). Zero is `(false, "", 0)` whatever its sign.
fn normalize(text: &str) -> (bool, String, i64) {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(p) => (&rest[..p], rest[p + 1..].parse::<i64>().unwrap_or(0)),
        None => (rest, 0),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
        None => (mantissa, ""),
    };
    let mut digits: String = int.chars().chain(frac.chars()).collect();
    let mut exp = exp.saturating_sub(frac.len() as i64);
    let trimmed = digits.trim_start_matches('0').len();
    digits = digits[digits.len() - trimmed..].to_string();
    while digits.ends_with('0') {
        digits.pop();
        exp = exp.saturating_add(1);
    }
    if digits.is_empty() {
        return (false, String::new(), 0);
    }
    (neg, digits, exp)
}

/// Writes a number the way a pattern or alert shows it: integers without `.0`.
pub(crate) fn to_json_number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        // The guard keeps the cast exact.
        #[allow(clippy::cast_possible_truncation)]
        return serde_json::Value::from(v as i64);
    }
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_literals() {
        for ok in [
            "0",
            "-0",
            "300",
            "300.0",
            "3e2",
            "3.00E+2",
            "0.1",
            "1.5e-7",
            "9007199254740992",
            "1.7976931348623157e308",
        ] {
            assert!(exact_value(ok).is_some(), "{ok}");
        }
        assert_eq!(exact_value("3e2"), Some(300.0));
        for bad in [
            "9007199254740993",
            "1e400",
            "-1e400",
            "1e-400",
            "0.30000000000000000001",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "abc",
            "",
        ] {
            assert!(exact_value(bad).is_none(), "{bad}");
        }
    }
}
