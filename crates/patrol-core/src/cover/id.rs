//! Cover ids: lowercase `[a-z0-9-]`, at most [`MAX_ID_CHARS`], derived from the group's
//! key alone (so adding a rule to one group never renames another): the services
//! (`iam`, `logs-monitoring-sqs`), `any-<field>` for rules no service names
//! (`any-errorcode`), `-ro` for read-only groups, `-2`, `-3`, ... for a group split in
//! several covers. A label too long keeps its start and gets a short hash of the whole key.

use super::group::Key;

/// The longest id (CloudFormation logical ids and rule names are built from it).
pub const MAX_ID_CHARS: usize = 32;

/// Room left for `-ro` and a split number.
const MAX_LABEL_CHARS: usize = 24;

/// The id of a group's covers before any split number.
pub(crate) fn base(key: &Key, read_only: bool) -> String {
    let mut label = match key {
        Key::Services(services) => services
            .iter()
            .map(|s| sanitize(s))
            .collect::<Vec<_>>()
            .join("-"),
        Key::Anchor(path) => {
            let rest = path.strip_prefix("detail.").unwrap_or(path);
            format!("any-{}", sanitize(rest))
        }
        Key::All => "all".to_owned(),
    };
    if label.len() > MAX_LABEL_CHARS || label.is_empty() {
        let keep = MAX_LABEL_CHARS - 6;
        label.truncate(keep);
        let trimmed = label.trim_end_matches('-').to_owned();
        label = format!("{trimmed}-{}", hashed(&canonical(key)));
        label = label.trim_start_matches('-').to_owned();
    }
    if read_only {
        label.push_str("-ro");
    }
    label
}

/// The `n`th (from 1) cover of a group.
pub(crate) fn numbered(base: &str, n: usize) -> String {
    if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}-{n}")
    }
}

/// A base made unique when two keys' labels collide (not expected with AWS sources):
/// its start and the key's hash.
pub(crate) fn disambiguated(key: &Key, read_only: bool) -> String {
    let mut label = base(key, false);
    label.truncate(MAX_LABEL_CHARS - 6);
    let start = label.trim_end_matches('-');
    let mut out = if start.is_empty() {
        hashed(&canonical(key))
    } else {
        format!("{start}-{}", hashed(&canonical(key)))
    };
    if read_only {
        out.push_str("-ro");
    }
    out
}

/// The key as one string, for hashing.
fn canonical(key: &Key) -> String {
    match key {
        Key::Services(s) => format!(
            "services:{}",
            s.iter().cloned().collect::<Vec<_>>().join(",")
        ),
        Key::Anchor(p) => format!("anchor:{p}"),
        Key::All => "all".to_owned(),
    }
}

/// Lowercase, every run of other characters one `-`, no `-` at either end; `aws.` and
/// `.amazonaws.com` are already gone from service names.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// 5 hex digits of FNV-1a: stable across Rust versions and platforms, unlike std's hasher.
fn hashed(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:05x}", h & 0xf_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn services(s: &[&str]) -> Key {
        Key::Services(s.iter().map(|x| (*x).to_owned()).collect::<BTreeSet<_>>())
    }

    fn valid(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= MAX_ID_CHARS
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    #[test]
    fn ids_name_the_group() {
        assert_eq!(base(&services(&["iam"]), false), "iam");
        assert_eq!(
            base(&services(&["sqs", "logs", "monitoring"]), false),
            "logs-monitoring-sqs"
        );
        assert_eq!(base(&services(&["ec2"]), true), "ec2-ro");
        assert_eq!(
            base(&Key::Anchor("detail.errorCode".into()), true),
            "any-errorcode-ro"
        );
        assert_eq!(
            base(&Key::Anchor("detail.userIdentity.type".into()), false),
            "any-useridentity-type"
        );
        assert_eq!(base(&services(&["Acme.App_x"]), false), "acme-app-x");
        assert_eq!(numbered("iam", 1), "iam");
        assert_eq!(numbered("iam", 3), "iam-3");
    }

    #[test]
    fn long_or_empty_labels_are_hashed_and_stay_valid() {
        let many = services(&["cloudformation", "cloudtrail", "cloudwatch", "config"]);
        let id = base(&many, true);
        assert!(valid(&id) && id.len() <= MAX_ID_CHARS - 4, "{id}");
        assert_eq!(id, base(&many, true), "stable");
        assert_ne!(
            id,
            base(
                &services(&["cloudformation", "cloudtrail", "cloudwatch", "configx"]),
                true
            )
        );
        let empty = base(&services(&["..."]), false);
        assert!(valid(&empty), "{empty}");
        let odd = disambiguated(&services(&["iam"]), true);
        assert!(
            valid(&odd) && odd.ends_with("-ro") && odd != "iam-ro",
            "{odd}"
        );
        assert!(valid(&numbered(&id, 999)));
    }
}
