//! Calendar dates as `YYYY-MM-DD` strings (they compare correctly as strings), for
//! suppression expiry. The caller says what "today" is, so the core stays pure and tests
//! stay deterministic.

/// The UTC calendar date of a Unix time, as `YYYY-MM-DD`.
pub fn civil_date(unix_secs: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = unix_secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of a calendar date (Howard Hinnant's days-from-civil).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The day after `YYYY-MM-DD` (the same string if it is not a date).
pub fn next_day(day: &str) -> String {
    let num = |r: std::ops::Range<usize>| day.get(r).and_then(|s| s.parse::<i64>().ok());
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => civil_date((days_from_civil(y, m, d) + 1) * 86_400),
        _ => day.to_owned(),
    }
}

/// Unix seconds of an RFC 3339 UTC time as CloudTrail and EventBridge write it
/// (`2026-11-22T10:15:00Z`, optionally with fractional seconds); `None` otherwise.
pub fn unix_seconds(time: &str) -> Option<i64> {
    let b = time.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        let s = time.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse::<i64>().ok()
        } else {
            None
        }
    };
    let rest = time.get(19..)?;
    let zulu = rest == "Z"
        || rest
            .strip_prefix('.')
            .and_then(|r| r.strip_suffix('Z'))
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()));
    if !zulu {
        return None;
    }
    let (y, mo, d, h, mi, s) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Today's UTC date.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    civil_date(secs)
}

/// Whether `s` is a plausible `YYYY-MM-DD` date.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(951_782_400), "2000-02-29");
        assert_eq!(civil_date(1_795_305_600), "2026-11-22");
        assert_eq!(civil_date(1_795_305_599), "2026-11-21");
        assert_eq!(civil_date(-86_400), "1969-12-31");
    }

    #[test]
    fn next_day_crosses_months_and_years() {
        assert_eq!(next_day("2023-07-31"), "2023-08-01");
        assert_eq!(next_day("2024-02-28"), "2024-02-29");
        assert_eq!(next_day("2023-12-31"), "2024-01-01");
    }

    #[test]
    fn dates_are_recognised() {
        assert!(is_date("2027-01-31"));
        assert!(!is_date("2027-13-01"));
        assert!(!is_date("2027-1-1"));
        assert!(!is_date("tomorrow!!"));
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn parses_cloudtrail_times() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2026-11-22T10:15:30Z"), Some(1_795_342_530));
        assert_eq!(
            unix_seconds("2026-11-22T10:15:30.123Z"),
            Some(1_795_342_530)
        );
        assert_eq!(civil_date(1_795_342_530), "2026-11-22");
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T10:15:30",
            "2026-11-22T10:15:30+01:00",
            "2026-13-22T10:15:30Z",
            "2026-11-22T10:15:30.Z",
            "2026-1a-22T10:15:30Z",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }
}
