//! The document-level corpus: real-shaped policies from AWS's documented examples, as
//! `{name, policy, expect}` tables, for the three questions and for malformed input.
//! (In its own file because the corpus alone is longer than the parser.)

use serde_json::{Value, json};

use super::*;

/// What `is_public` should say, or a fragment of the parse error.
enum Expect {
    Public,
    NotPublic,
    Error(&'static str),
}
use Expect::{Error, NotPublic, Public};

struct Case {
    name: &'static str,
    policy: Value,
    expect: Expect,
}

fn allow(principal: Value, condition: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal,
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
        "Condition": condition}]})
}

fn open_with(operator: &str, key: &str, values: Value) -> Value {
    allow(json!("*"), json!({ operator: { key: values } }))
}

/// Percent-encodes every byte outside RFC 3986's unreserved set, as IAM does.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let public_read = json!({"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead",
        "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/*"]}]});
    let cross_account = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}});
    vec![
        Case {
            name: "s3 public read, Principal *",
            policy: public_read.clone(),
            expect: Public,
        },
        Case {
            name: "AWS: * string",
            policy: allow(json!({"AWS": "*"}), json!({})),
            expect: Public,
        },
        Case {
            name: "AWS: [*] array",
            policy: allow(json!({"AWS": ["*"]}), json!({})),
            expect: Public,
        },
        Case {
            name: "AWS list with * among accounts",
            policy: allow(json!({"AWS": ["111122223333", "*"]}), json!({})),
            expect: Public,
        },
        Case {
            name: "single statement object, not array",
            policy: json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111122223333:q"}}),
            expect: Public,
        },
        Case {
            name: "cross-account role trust",
            policy: cross_account.clone(),
            expect: NotPublic,
        },
        Case {
            name: "identity policy without Principal",
            policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            expect: NotPublic,
        },
        Case {
            name: "service principal trust (lambda)",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            expect: NotPublic,
        },
        Case {
            name: "CloudFront OAC, Service + AWS:SourceArn",
            policy: json!({"Version": "2012-10-17", "Statement": {"Sid": "AllowCloudFrontServicePrincipalReadOnly", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*", "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE"}}}}),
            expect: NotPublic,
        },
        Case {
            name: "deny insecure transport (Deny, Principal *)",
            policy: json!({"Statement": [{"Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
            expect: NotPublic,
        },
        Case {
            name: "deny insecure transport plus public read",
            policy: json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": false}}}, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}),
            expect: Public,
        },
        Case {
            name: "Deny * does not un-public an Allow *",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Deny", "Principal": "*", "NotAction": "s3:GetObject", "Resource": "*"}]}),
            expect: Public,
        },
        Case {
            name: "SNS topic open with aws:SourceOwner",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["SNS:Publish", "SNS:Subscribe"], "Resource": "arn:aws:sns:us-east-2:444455556666:MyTopic", "Condition": {"StringEquals": {"AWS:SourceOwner": "444455556666"}}}]}),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceAccount",
            policy: open_with("StringEquals", "aws:SourceAccount", json!("111122223333")),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceArn ArnLike with fixed account",
            policy: open_with(
                "ArnLike",
                "aws:SourceArn",
                json!("arn:aws:s3:::amzn-s3-demo-bucket"),
            ),
            expect: NotPublic,
        },
        Case {
            name: "aws:PrincipalOrgID",
            policy: open_with(
                "StringEquals",
                "aws:PrincipalOrgID",
                json!(["o-a1b2c3d4e5"]),
            ),
            expect: NotPublic,
        },
        Case {
            name: "aws:PrincipalOrgPaths ForAnyValue:StringLike",
            policy: open_with(
                "ForAnyValue:StringLike",
                "aws:PrincipalOrgPaths",
                json!(["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"]),
            ),
            expect: NotPublic,
        },
        Case {
            name: "aws:PrincipalAccount",
            policy: open_with(
                "StringEquals",
                "aws:PrincipalAccount",
                json!("111122223333"),
            ),
            expect: NotPublic,
        },
        Case {
            name: "aws:PrincipalArn ArnEquals",
            policy: open_with(
                "ArnEquals",
                "aws:PrincipalArn",
                json!("arn:aws:iam::111122223333:role/reader"),
            ),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceVpc",
            policy: open_with("StringEquals", "aws:SourceVpc", json!("vpc-111bbb22")),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceVpce",
            policy: open_with("StringEquals", "aws:SourceVpce", json!("vpce-1a2b3c4d")),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceIp IpAddress",
            policy: open_with(
                "IpAddress",
                "aws:SourceIp",
                json!(["192.0.2.0/24", "2001:DB8:1234:5678::/64"]),
            ),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceIp 0.0.0.0/0",
            policy: open_with("IpAddress", "aws:SourceIp", json!("0.0.0.0/0")),
            expect: Public,
        },
        Case {
            name: "aws:SourceIp ::/0",
            policy: open_with("IpAddress", "aws:SourceIp", json!(["192.0.2.0/24", "::/0"])),
            expect: Public,
        },
        Case {
            name: "aws:userid StringLike role id",
            policy: open_with(
                "StringLike",
                "aws:userid",
                json!(["AROAEXAMPLEID:*", "111122223333"]),
            ),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceOrgID",
            policy: open_with("StringEquals", "aws:SourceOrgID", json!("o-a1b2c3d4e5")),
            expect: NotPublic,
        },
        Case {
            name: "aws:SourceOrgPaths",
            policy: open_with(
                "ForAnyValue:StringEquals",
                "aws:SourceOrgPaths",
                json!("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"),
            ),
            expect: NotPublic,
        },
        Case {
            name: "kms:CallerAccount key policy",
            policy: json!({"Statement": [{"Sid": "Allow access through EBS for all principals in the account", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "ec2.us-west-2.amazonaws.com"}}}]}),
            expect: NotPublic,
        },
        Case {
            name: "kms:ViaService alone",
            policy: open_with(
                "StringEquals",
                "kms:ViaService",
                json!("ec2.us-west-2.amazonaws.com"),
            ),
            expect: Public,
        },
        Case {
            name: "aws:PrincipalServiceName alone",
            policy: open_with(
                "StringEquals",
                "aws:PrincipalServiceName",
                json!("cloudtrail.amazonaws.com"),
            ),
            expect: Public,
        },
        Case {
            name: "StringLike account wildcard",
            policy: open_with(
                "StringLike",
                "aws:PrincipalArn",
                json!("arn:aws:iam::*:role/admin"),
            ),
            expect: Public,
        },
        Case {
            name: "StringLike bare *",
            policy: open_with("StringLike", "aws:SourceAccount", json!("*")),
            expect: Public,
        },
        Case {
            name: "StringLike o-* org id",
            policy: open_with("StringLike", "aws:PrincipalOrgID", json!("o-*")),
            expect: Public,
        },
        Case {
            name: "StringEqualsIfExists",
            policy: open_with(
                "StringEqualsIfExists",
                "aws:SourceAccount",
                json!("111122223333"),
            ),
            expect: Public,
        },
        Case {
            name: "ArnLikeIfExists",
            policy: open_with(
                "ArnLikeIfExists",
                "aws:SourceArn",
                json!("arn:aws:sns:us-east-1:111122223333:t"),
            ),
            expect: Public,
        },
        Case {
            name: "ForAllValues:StringEquals",
            policy: open_with(
                "ForAllValues:StringEquals",
                "aws:PrincipalOrgPaths",
                json!(["o-a1b2c3d4e5/r-ab12/"]),
            ),
            expect: Public,
        },
        Case {
            name: "StringNotEquals",
            policy: open_with(
                "StringNotEquals",
                "aws:SourceAccount",
                json!("111122223333"),
            ),
            expect: Public,
        },
        Case {
            name: "Null condition",
            policy: open_with("Null", "aws:SourceAccount", json!("false")),
            expect: Public,
        },
        Case {
            name: "Bool SecureTransport on Allow",
            policy: open_with("Bool", "aws:SecureTransport", json!("true")),
            expect: Public,
        },
        Case {
            name: "unrestricting plus restricting clause (ANDed)",
            policy: allow(
                json!("*"),
                json!({"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
            ),
            expect: NotPublic,
        },
        Case {
            name: "key names are case-insensitive",
            policy: open_with("StringEquals", "AWS:PRINCIPALORGID", json!("o-a1b2c3d4e5")),
            expect: NotPublic,
        },
        Case {
            name: "NotPrincipal Allow",
            policy: json!({"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::444455556666:user/Bob"}, "Action": "s3:*", "Resource": "*"}]}),
            expect: Public,
        },
        Case {
            name: "NotPrincipal Deny (documented pattern)",
            policy: json!({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::444455556666:user/Bob", "arn:aws:iam::444455556666:root"]}, "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}]}),
            expect: NotPublic,
        },
        Case {
            name: "NotAction with Principal *",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::b"}]}),
            expect: Public,
        },
        Case {
            name: "NotResource with account principal",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:*", "NotResource": "arn:aws:s3:::b/secret/*"}]}),
            expect: NotPublic,
        },
        Case {
            name: "Federated principal (OIDC)",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/*"}}}]}),
            expect: NotPublic,
        },
        Case {
            name: "CanonicalUser principal",
            policy: allow(
                json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
                json!({}),
            ),
            expect: NotPublic,
        },
        Case {
            name: "JSON string form",
            policy: Value::String(public_read.to_string()),
            expect: Public,
        },
        Case {
            name: "URL-encoded string form",
            policy: Value::String(url_encode(
                &serde_json::to_string_pretty(&public_read).unwrap_or_default(),
            )),
            expect: Public,
        },
        Case {
            name: "URL-encoded trust policy",
            policy: Value::String(url_encode(&cross_account.to_string())),
            expect: NotPublic,
        },
        Case {
            name: "JSON string holding a JSON string",
            policy: Value::String(Value::String(public_read.to_string()).to_string()),
            expect: Public,
        },
        Case {
            name: "empty Statement array",
            policy: json!({"Statement": []}),
            expect: NotPublic,
        },
        Case {
            name: "lowercase effect accepted",
            policy: json!({"Statement": [{"Effect": "allow", "Principal": "*", "Action": "s3:GetObject"}]}),
            expect: Public,
        },
        // Malformed documents.
        Case {
            name: "not JSON",
            policy: json!("{\"Statement\": ["),
            expect: Error("not valid JSON"),
        },
        Case {
            name: "plain text",
            policy: json!("hello"),
            expect: Error("not valid JSON"),
        },
        Case {
            name: "bad percent-encoding",
            policy: json!("%7B%22Statement%2"),
            expect: Error("not followed by two hex digits"),
        },
        Case {
            name: "percent-encoding of invalid UTF-8",
            policy: json!("%FF%FE"),
            expect: Error("invalid UTF-8"),
        },
        Case {
            name: "number instead of document",
            policy: json!(42),
            expect: Error("got a number"),
        },
        Case {
            name: "array instead of document",
            policy: json!([{"Effect": "Allow"}]),
            expect: Error("got an array"),
        },
        Case {
            name: "Statement missing",
            policy: json!({"Version": "2012-10-17"}),
            expect: Error("no `Statement`"),
        },
        Case {
            name: "Statement a string",
            policy: json!({"Statement": "Allow"}),
            expect: Error("Statement: must be an object or an array, got a string"),
        },
        Case {
            name: "statement entry not an object",
            policy: json!({"Statement": [1]}),
            expect: Error("Statement[0]: must be an object"),
        },
        Case {
            name: "Effect missing",
            policy: json!({"Statement": [{"Principal": "*", "Action": "s3:*"}]}),
            expect: Error("Statement[0]: has no `Effect`"),
        },
        Case {
            name: "Effect unknown",
            policy: json!({"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "s3:*"}]}),
            expect: Error("Statement[0].Effect: must be \"Allow\" or \"Deny\""),
        },
        Case {
            name: "Action a number",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 7}]}),
            expect: Error("Statement[0].Action: must be a string, got a number"),
        },
        Case {
            name: "Action list with an object",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["s3:*", {}]}]}),
            expect: Error("Statement[0].Action[1]: must be a string"),
        },
        Case {
            name: "no Action nor NotAction",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Resource": "*"}]}),
            expect: Error("neither `Action` nor `NotAction`"),
        },
        Case {
            name: "both Action and NotAction",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "a:b", "NotAction": "a:c"}]}),
            expect: Error("both `Action` and `NotAction`"),
        },
        Case {
            name: "both Principal and NotPrincipal",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "a:b"}]}),
            expect: Error("both `Principal` and `NotPrincipal`"),
        },
        Case {
            name: "Principal a number",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": 1, "Action": "a:b"}]}),
            expect: Error("Statement[0].Principal: must be \"*\" or an object"),
        },
        Case {
            name: "Condition an array",
            policy: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "a:b", "Condition": []}]}),
            expect: Error("Statement[0].Condition: must be an object"),
        },
    ]
}

#[test]
fn is_public_corpus() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in cases {
        let parsed = PolicyDocument::parse(&case.policy);
        match (case.expect, parsed) {
            (Public, Ok(doc)) => assert!(doc.is_public(), "{}: expected public", case.name),
            (NotPublic, Ok(doc)) => assert!(!doc.is_public(), "{}: expected not public", case.name),
            (Error(fragment), Err(e)) => assert!(
                e.to_string().contains(fragment),
                "{}: error `{e}` lacks `{fragment}`",
                case.name
            ),
            (Error(fragment), Ok(doc)) => {
                panic!("{}: expected error `{fragment}`, parsed {doc:?}", case.name)
            }
            (_, Err(e)) => panic!("{}: unexpected error {e}", case.name),
        }
    }
}

#[test]
fn external_accounts_corpus() {
    let trusted = vec!["111122223333".to_owned(), "444455556666".to_owned()];
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "trusted account only",
            json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}}),
            &[],
        ),
        (
            "ids and ARNs, sorted and deduplicated",
            json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["999988887777", "arn:aws:iam::111122223333:role/x", "arn:aws:iam::222233334444:role/a"]}, "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::999988887777:assumed-role/r/s"}, "Action": "s3:*", "Resource": "*"}]}),
            &["222233334444", "999988887777"],
        ),
        (
            "Deny statements are not grants",
            json!({"Statement": {"Effect": "Deny", "Principal": {"AWS": "999988887777"}, "Action": "s3:*", "Resource": "*"}}),
            &[],
        ),
        (
            "public statement gives *",
            json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "s3:*", "Resource": "*"}]}),
            &["*", "999988887777"],
        ),
        (
            "open but restricted to an account by condition",
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": ["999988887777", "111122223333"]}}}}),
            &["999988887777"],
        ),
        (
            "open but restricted to the organization",
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}}),
            &[],
        ),
        (
            "services and unique ids are not accounts",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com", "AWS": "AIDAEXAMPLEID"}, "Action": "s3:*", "Resource": "*"}}),
            &[],
        ),
    ];
    for (name, policy, want) in cases {
        let doc = PolicyDocument::parse(&policy).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.external_accounts(&trusted), want, "{name}");
    }
}

/// A service principal restricted to the resources of one account lets that account in
/// through the service (the confused-deputy shape): that account is reported unless
/// trusted. The documents are AWS's documented examples for each integration.
#[test]
fn external_accounts_through_service_principals() {
    let trusted = vec!["111122223333".to_owned(), "444455556666".to_owned()];
    // S3 user guide, "Granting permissions to publish event notification messages to a
    // destination": the SNS topic policy.
    let sns_for_s3 = |bucket_owner: &str| {
        json!({"Version": "2012-10-17", "Id": "example-ID", "Statement": [{
            "Sid": "Example SNS topic policy", "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"}, "Action": ["SNS:Publish"],
            "Resource": "arn:aws:sns:us-east-1:111122223333:example-sns-topic",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::amzn-s3-demo-bucket"},
                "StringEquals": {"aws:SourceAccount": bucket_owner}}}]})
    };
    // EventBridge user guide, "Amazon SQS permissions": the queue policy for a rule.
    let sqs_for_eventbridge = |rule_account: &str| {
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "EventsToMyQueue", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": "arn:aws:sqs:us-east-1:111122223333:queue-name",
            "Condition": {"ArnEquals": {"aws:SourceArn": format!("arn:aws:events:us-east-1:{rule_account}:rule/rule-name")}}}]})
    };
    // CloudTrail user guide, "Configure AWS KMS key policies for CloudTrail": the key
    // policy with its encrypt and describe statements.
    let kms_for_cloudtrail = |trail_account: &str| {
        json!({"Version": "2012-10-17", "Id": "Key policy created by CloudTrail", "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow CloudTrail to encrypt logs", "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": format!("arn:aws:cloudtrail:us-east-2:{trail_account}:trail/trail-name")},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": format!("arn:aws:cloudtrail:*:{trail_account}:trail/*")}}},
            {"Sid": "Allow CloudTrail to describe key", "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:DescribeKey", "Resource": "*"}]})
    };
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "SNS for S3 notifications, bucket owner trusted",
            sns_for_s3("111122223333"),
            &[],
        ),
        (
            "SNS for S3 notifications, bucket owner outside",
            sns_for_s3("999988887777"),
            &["999988887777"],
        ),
        (
            "SQS for an EventBridge rule, rule in a trusted account",
            sqs_for_eventbridge("444455556666"),
            &[],
        ),
        (
            "SQS for an EventBridge rule, rule in another account",
            sqs_for_eventbridge("777788889999"),
            &["777788889999"],
        ),
        (
            "KMS for CloudTrail, trail in a trusted account",
            kms_for_cloudtrail("111122223333"),
            &[],
        ),
        (
            "KMS for CloudTrail, trail in another account",
            kms_for_cloudtrail("999988887777"),
            &["999988887777"],
        ),
        (
            "KMS for an organization trail: one trail ARN per account",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*", "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": [
                    "arn:aws:cloudtrail:us-east-2:111122223333:trail/org-trail",
                    "arn:aws:cloudtrail:us-east-2:222233334444:trail/org-trail"]}}}}),
            &["222233334444"],
        ),
        (
            "SNS for another service with AWS:SourceOwner (key case-insensitive)",
            json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ses.amazonaws.com"},
                "Action": "SNS:Publish", "Resource": "arn:aws:sns:us-east-1:111122223333:ses-notifications",
                "Condition": {"StringEquals": {"AWS:SourceOwner": "222233334444"}}}]}),
            &["222233334444"],
        ),
        (
            "SourceAccount with IfExists still names the account",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111122223333:q",
                "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "999988887777"}}}}),
            &["999988887777"],
        ),
        (
            "service principal without a condition names no account",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111122223333:q"}}),
            &[],
        ),
        (
            "service principal restricted to a bucket name only names no account",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish", "Resource": "arn:aws:sns:us-west-1:111122223333:new-image",
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:amzn-s3-demo-bucket"}}}}),
            &[],
        ),
        (
            "StringNotEquals keeps the account out",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish", "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:SourceAccount": "999988887777"}}}}),
            &[],
        ),
        (
            "a Deny for a service is not a grant",
            json!({"Statement": {"Effect": "Deny", "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish", "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": "999988887777"}}}}),
            &[],
        ),
        (
            "aws:PrincipalAccount on a service principal is not a source key",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish", "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": "999988887777"}}}}),
            &[],
        ),
        (
            "open principal with aws:PrincipalArn outside (unchanged)",
            json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
                "Resource": "*", "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::999988887777:role/reader"}}}}),
            &["999988887777"],
        ),
        (
            "open principal with aws:PrincipalAccount trusted (unchanged)",
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "444455556666"}}}}),
            &[],
        ),
    ];
    for (name, policy, want) in cases {
        let doc = PolicyDocument::parse(&policy).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!doc.is_public(), "{name}: a service grant is not public");
        assert_eq!(doc.external_accounts(&trusted), want, "{name}");
    }
}
