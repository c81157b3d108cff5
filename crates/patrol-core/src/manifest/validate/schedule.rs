//! `trigger.schedule`: EventBridge `rate(...)` and `cron(...)` expressions.

/// EventBridge schedule expressions: `rate(value unit)` and 6-field `cron(...)`.
pub(super) fn check_schedule(expr: &str) -> Result<(), String> {
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{expr}` is not `rate(<value> <unit>)`"));
        };
        let n: u64 = n
            .parse()
            .map_err(|_| format!("`{n}` in `{expr}` is not a positive whole number"))?;
        if n == 0 {
            return Err(format!("`{expr}`: the rate must be at least 1"));
        }
        let singular = ["minute", "hour", "day"];
        let plural = ["minutes", "hours", "days"];
        let ok = if n == 1 {
            singular.contains(&unit)
        } else {
            plural.contains(&unit)
        };
        if !ok {
            return Err(format!(
                "`{expr}`: the unit must be {} for a value of {n}",
                if n == 1 {
                    "minute, hour or day"
                } else {
                    "minutes, hours or days"
                }
            ));
        }
        return Ok(());
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "`{expr}` has {} fields; EventBridge cron takes 6 (minutes hours day-of-month month day-of-week year)",
                fields.len()
            ));
        }
        if fields[2] != "?" && fields[4] != "?" {
            return Err(format!(
                "`{expr}`: one of day-of-month and day-of-week must be `?`"
            ));
        }
        return Ok(());
    }
    Err(format!("`{expr}` is neither `rate(...)` nor `cron(...)`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_checked() {
        assert!(check_schedule("rate(1 day)").is_ok());
        assert!(check_schedule("rate(5 minutes)").is_ok());
        assert!(check_schedule("cron(0 8 * * ? *)").is_ok());
        assert!(check_schedule("rate(1 days)").is_err());
        assert!(check_schedule("rate(0 minutes)").is_err());
        assert!(check_schedule("cron(0 8 * * *)").is_err());
        assert!(check_schedule("every day").is_err());
    }
}
