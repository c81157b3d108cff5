//! The shapes of the AWS ids `[deploy]` holds (account, region, organization, OU and root
//! ids) and of operators' email addresses, each with how to fix a wrong one; and AWS's
//! documented example ids, which must not be deployed.

use crate::manifest::parse::closest;

/// Why a value is not what its key takes, and how to fix it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Bad {
    pub message: String,
    pub help: String,
}

fn bad(message: impl Into<String>, help: impl Into<String>) -> Result<(), Bad> {
    Err(Bad {
        message: message.into(),
        help: help.into(),
    })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn lower_alnum(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// 12 digits.
pub(super) fn check_account(s: &str) -> Result<(), Bad> {
    if s.len() == 12 && digits(s) {
        return Ok(());
    }
    let message = format!("`{s}` is not an AWS account id");
    let squeezed: String = s.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    if squeezed.len() == 12 && digits(&squeezed) {
        return bad(
            message,
            format!("write the 12 digits without dashes or spaces: `\"{squeezed}\"`"),
        );
    }
    if digits(s) {
        return bad(
            format!("`{s}` has {} digits; an AWS account id has 12", s.len()),
            "copy the id with its leading zeros, in quotes (`aws sts get-caller-identity` prints it)",
        );
    }
    bad(
        message,
        "an account id is 12 digits, in quotes, e.g. `\"123456789012\"` (`aws sts get-caller-identity` prints yours)",
    )
}

/// Geographic prefixes of region names.
const AREAS: &[&str] = &["af", "ap", "ca", "cn", "eu", "il", "me", "mx", "sa", "us"];
/// The middle word of region names.
const DIRECTIONS: &[&str] = &[
    "central",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
];
/// Regions known when this was written: only for "did you mean"; any region of the right
/// shape is accepted, so new regions need no Patrol release.
const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

const REGION_EXAMPLES: &str = "regions look like `eu-west-1`, `us-gov-west-1` or `cn-north-1`";

/// `<area>-<direction>-<n>`, with `us-gov-`, `us-iso-`, `us-isob-` and `eusc-de-` forms.
fn region_shape(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let (area_ok, direction, number) = match parts.as_slice() {
        [area, direction, n] => (AREAS.contains(area), *direction, *n),
        ["us", "gov" | "iso" | "isob", direction, n] => (true, *direction, *n),
        ["eusc", country, direction, n] => (
            country.len() == 2 && country.bytes().all(|b| b.is_ascii_lowercase()),
            *direction,
            *n,
        ),
        _ => return false,
    };
    area_ok
        && DIRECTIONS.contains(&direction)
        && (1..=2).contains(&number.len())
        && digits(number)
        && !number.starts_with('0')
}

pub(super) fn check_region(s: &str) -> Result<(), Bad> {
    if region_shape(s) {
        return Ok(());
    }
    let message = format!("`{s}` is not an AWS region");
    let lower = s.to_ascii_lowercase();
    if lower != s && region_shape(&lower) {
        return bad(message, format!("write it in lowercase: `\"{lower}\"`"));
    }
    let zone = s.trim_end_matches(|c: char| c.is_ascii_lowercase());
    if zone != s && region_shape(zone) {
        return bad(
            format!("`{s}` is an availability zone, not a region"),
            format!("write its region: `\"{zone}\"`"),
        );
    }
    match closest(&lower, KNOWN_REGIONS) {
        Some(near) => bad(message, format!("did you mean `{near}`? {REGION_EXAMPLES}")),
        None => bad(
            message,
            format!("{REGION_EXAMPLES} (`aws account list-regions` lists yours)"),
        ),
    }
}

/// The partition a well-shaped region belongs to.
pub(super) fn partition(region: &str) -> &'static str {
    if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

/// `o-` and 10 to 32 lowercase letters or digits.
pub(super) fn check_organization_id(s: &str) -> Result<(), Bad> {
    let ok = s
        .strip_prefix("o-")
        .is_some_and(|rest| (10..=32).contains(&rest.len()) && lower_alnum(rest));
    if ok {
        return Ok(());
    }
    let message = format!("`{s}` is not an AWS Organizations organization id");
    if let Some(id) = s
        .rsplit('/')
        .next()
        .filter(|id| id.starts_with("o-") && *id != s)
    {
        return bad(
            message,
            format!("write the id alone, not the ARN: `\"{id}\"`"),
        );
    }
    let lower = s.to_ascii_lowercase();
    if lower != s && check_organization_id(&lower).is_ok() {
        return bad(message, format!("write it in lowercase: `\"{lower}\"`"));
    }
    bad(
        message,
        "an organization id is `o-` and 10 to 32 lowercase letters or digits, e.g. `\"o-a1b2c3d4e5\"` (`aws organizations describe-organization` prints yours)",
    )
}

/// An OU id (`ou-<4-32>-<8-32>`) or the root id (`r-<4-32>`).
pub(super) fn check_target(s: &str) -> Result<(), Bad> {
    let ou = s.strip_prefix("ou-").and_then(|rest| rest.split_once('-'));
    let ok = match ou {
        Some((root, unit)) => {
            (4..=32).contains(&root.len())
                && lower_alnum(root)
                && (8..=32).contains(&unit.len())
                && lower_alnum(unit)
        }
        None => s
            .strip_prefix("r-")
            .is_some_and(|rest| (4..=32).contains(&rest.len()) && lower_alnum(rest)),
    };
    if ok {
        return Ok(());
    }
    let message = format!("`{s}` is not an organizational unit id or the root id");
    if s.len() == 12 && digits(s) {
        return bad(
            format!("`{s}` is an account id; StackSets deploy to organizational units"),
            "name the OU that holds the account (`ou-...`), or the root (`r-...`) for every account",
        );
    }
    if s.starts_with("o-") {
        return bad(
            format!("`{s}` is the organization id, not a target"),
            "to deploy to every account, target the root: `r-...` (`aws organizations list-roots` prints it)",
        );
    }
    bad(
        message,
        "targets are OU ids like `ou-ab12-cdef3456` or the root id like `r-ab12` (`aws organizations list-roots`, `list-organizational-units-for-parent`)",
    )
}

/// `name@domain.tld`, no spaces: enough to catch a typo before SNS rejects it.
pub(super) fn check_email(s: &str) -> Result<(), Bad> {
    let ok = s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..")
    }) && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        return Ok(());
    }
    bad(
        format!("`{s}` is not an email address"),
        "write the full address, e.g. `\"secops@example.com\"`; each operator confirms the subscription once",
    )
}

/// Account ids that AWS documentation uses in examples.
const EXAMPLE_ACCOUNTS: &[&str] = &[
    "123456789012",
    "111122223333",
    "444455556666",
    "777788889999",
];
/// Organization, OU and root ids that AWS documentation uses in examples.
const EXAMPLE_ORG_IDS: &[&str] = &[
    "o-a1b2c3d4e5",
    "o-aa111bb222",
    "ou-ab12-cdef3456",
    "ou-abcd-11111111",
    "ou-a1b2-f6g7h111",
    "ou-a1b2-f6g7h222",
    "r-a1b2",
    "r-ab12",
];

/// AWS's documented example account ids: one digit twelve times, and a few others.
pub(super) fn is_example_account(s: &str) -> bool {
    let repeated = s.len() == 12 && digits(s) && s.bytes().all(|b| Some(b) == s.bytes().next());
    repeated || EXAMPLE_ACCOUNTS.contains(&s)
}

/// AWS's documented example organization, OU and root ids (`o-exampleorgid`, ...).
pub(super) fn is_example_org_id(s: &str) -> bool {
    s.contains("example") || EXAMPLE_ORG_IDS.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(r: Result<(), Bad>) -> String {
        r.err().map(|b| b.help).unwrap_or_default()
    }

    #[test]
    fn accounts_are_twelve_digits() {
        assert!(check_account("012345678901").is_ok());
        for bad in [
            "12345678901",
            "1234567890123",
            "abcdefghijkl",
            "",
            "12345678901a",
        ] {
            assert!(check_account(bad).is_err(), "{bad}");
        }
        assert!(help(check_account("1234-5678-9012")).contains("`\"123456789012\"`"));
        assert!(help(check_account("12345678901")).contains("leading zeros"));
    }

    #[test]
    fn regions_have_the_aws_shape() {
        for good in [
            "eu-west-1",
            "us-east-1",
            "ap-southeast-7",
            "us-gov-west-1",
            "cn-north-1",
            "cn-northwest-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eusc-de-east-1",
            "mx-central-1",
        ] {
            assert!(check_region(good).is_ok(), "{good}");
        }
        for bad in [
            "eu-west",
            "eu-west-0",
            "eu-west-01",
            "eu-west-123",
            "europe-west1",
            "xx-west-1",
            "",
            "eu--1",
            "global",
        ] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
        assert!(help(check_region("eu-wset-1")).starts_with("did you mean `eu-west-1`?"));
        assert!(help(check_region("EU-WEST-1")).contains("`\"eu-west-1\"`"));
        let zone = check_region("eu-west-1a").expect_err("a zone");
        assert!(zone.message.contains("availability zone"), "{zone:?}");
        assert!(zone.help.contains("`\"eu-west-1\"`"), "{zone:?}");
    }

    #[test]
    fn partitions_follow_the_region_prefix() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }

    #[test]
    fn organization_ids_targets_and_emails_are_checked() {
        assert!(check_organization_id("o-a1b2c3d4e5").is_ok());
        assert!(check_organization_id("o-abc").is_err());
        assert!(check_organization_id("o-A1B2C3D4E5").is_err());
        assert!(help(check_organization_id("O-A1B2C3D4E5")).contains("lowercase"));
        assert!(
            help(check_organization_id(
                "arn:aws:organizations::222222222222:organization/o-a1b2c3d4e5"
            ))
            .contains("`\"o-a1b2c3d4e5\"`")
        );

        for good in [
            "ou-ab12-cdef3456",
            "r-ab12",
            "ou-abcd-1111111122223333",
            "r-0a1b2c3d",
        ] {
            assert!(check_target(good).is_ok(), "{good}");
        }
        for bad in [
            "ou-ab1-cdef3456",
            "ou-ab12-cdef345",
            "OU-AB12-CDEF3456",
            "r-ab1",
            "root",
        ] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
        assert!(check_target("111111111111").is_err_and(|b| b.message.contains("account id")));
        assert!(check_target("o-a1b2c3d4e5").is_err_and(|b| b.help.contains("root")));

        assert!(check_email("secops@example.com").is_ok());
        for bad in [
            "secops",
            "@example.com",
            "secops@",
            "sec ops@example.com",
            "a@b",
            "a@@b.c",
            "a@b..c",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn example_ids_are_recognized() {
        for id in [
            "111111111111",
            "000000000000",
            "999999999999",
            "123456789012",
            "111122223333",
            "444455556666",
        ] {
            assert!(is_example_account(id), "{id}");
        }
        assert!(!is_example_account("123456789013"));
        for id in [
            "o-exampleorgid",
            "o-a1b2c3d4e5",
            "ou-ab12-cdef3456",
            "ou-abcd-11111111",
            "ou-examplerootid111-exampleouid111",
            "r-examplerootid111",
        ] {
            assert!(is_example_org_id(id), "{id}");
        }
        assert!(!is_example_org_id("o-7kq2m9x4wz"));
        assert!(!is_example_org_id("ou-7kq2-m9x4wz3t"));
    }
}
