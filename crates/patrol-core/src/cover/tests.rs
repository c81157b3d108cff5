//! Covers end to end: soundness on rules shaped like the shipped ones and on a generated
//! manifest of 1,000 rules, the partition, the limits, and ids that stay put.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::synthetic::{
    assert_partition, assert_sound, envelope, examples, manifest, many_rules, rule, set_path,
    strings_in, variants,
};
use super::*;

/// Rules in the shapes rules.toml uses: `$or` in `detail`, wildcards, `exists: false`,
/// `anything-but`, arrays of objects, read-only rules without a source.
fn shipped_like() -> Vec<Rule> {
    vec![
        rule(
            "lambda-function-url-public",
            json!({"source": ["aws.lambda"], "detail-type": ["AWS API Call via CloudTrail"], "detail": {
            "eventSource": ["lambda.amazonaws.com"],
            "$or": [
                {"eventName": [{"prefix": "CreateFunctionUrlConfig"}, {"prefix": "UpdateFunctionUrlConfig"}], "requestParameters": {"authType": ["NONE"]}},
                {"eventName": [{"prefix": "AddPermission"}], "requestParameters": {"functionUrlAuthType": ["NONE"]}}
            ]}}),
            false,
            "notify",
        ),
        rule(
            "patrol-function-tampered",
            json!({"source": ["aws.lambda"], "detail-type": ["AWS API Call via CloudTrail"], "detail": {"eventSource": ["lambda.amazonaws.com"],
                "eventName": [{"prefix": "DeleteFunction"}, {"prefix": "UpdateFunctionCode"}],
                "requestParameters": {"functionName": [{"prefix": "PatrolCentral"}, {"wildcard": "arn:aws*:lambda:*:*:function:PatrolCentral*"}]}}}),
            false,
            "notify",
        ),
        rule(
            "patrol-monitoring-tampered",
            json!({"detail-type": ["AWS API Call via CloudTrail"], "detail": {"$or": [
                {"eventSource": ["monitoring.amazonaws.com"], "eventName": ["DeleteAlarms"], "requestParameters": {"alarmNames": [{"wildcard": "*PatrolCentral*"}]}},
                {"eventSource": ["logs.amazonaws.com"], "eventName": ["DeleteLogGroup"], "requestParameters": {"logGroupName": [{"wildcard": "*PatrolCentral*"}]}}
            ]}}),
            false,
            "notify",
        ),
        rule(
            "root-account-api-call",
            json!({"detail-type": ["AWS API Call via CloudTrail"], "detail": {
                "userIdentity": {"type": ["Root"], "invokedBy": [{"exists": false}]},
                "eventType": [{"anything-but": "AwsServiceEvent"}]}}),
            true,
            "notify",
        ),
        rule(
            "unauthorized-api-call",
            json!({"detail-type": ["AWS API Call via CloudTrail"], "detail": {
                "errorCode": [{"prefix": "AccessDenied"}, "UnauthorizedOperation"]}}),
            true,
            "triage",
        ),
        rule(
            "security-group-ingress-open-to-world",
            json!({"source": ["aws.ec2"], "detail": {"eventName": ["AuthorizeSecurityGroupIngress"], "$or": [
                {"requestParameters": {"cidrIp": [{"suffix": "/0"}]}},
                {"requestParameters": {"ipPermissions": {"items": {"ipRanges": {"items": {"cidrIp": [{"suffix": "/0"}]}}}}}}
            ]}}),
            false,
            "notify",
        ),
        rule(
            "ebs-snapshot-shared",
            json!({"source": ["aws.ec2"], "detail": {"eventName": ["ModifySnapshotAttribute"],
                "requestParameters": {"createVolumePermission": {"add": {"items": {"userId": [{"exists": true}], "group": [{"anything-but": "none"}]}}}}}}),
            false,
            "notify",
        ),
        rule(
            "ec2-password-data-retrieved",
            json!({"source": ["aws.ec2"], "detail": {"eventName": ["GetPasswordData"]}}),
            true,
            "notify",
        ),
        rule(
            "s3-bucket-logging-disabled",
            json!({"source": ["aws.s3"], "detail": {"eventName": ["PutBucketLogging"],
                "requestParameters": {"BucketLoggingStatus": {"LoggingEnabled": {"TargetBucket": [{"exists": false}]}}}}}),
            false,
            "notify",
        ),
        rule(
            "rds-instance-made-public",
            json!({"source": ["aws.rds"], "detail": {"eventName": ["ModifyDBInstance"],
                "requestParameters": {"publiclyAccessible": [true], "port": [{"numeric": [">", 0, "<=", 5432]}], "ip": [{"cidr": "10.0.0.0/8"}], "x": [null]}}}),
            false,
            "notify",
        ),
    ]
}

/// Examples of every rule, variants of them with values the rules name, and hand-made
/// events with arrays.
fn events_for(rules: &[Rule]) -> Vec<Value> {
    let mut names = BTreeSet::new();
    for r in rules {
        if let Trigger::Event { pattern, .. } = &r.trigger {
            strings_in(pattern, &mut names);
        }
    }
    let names: Vec<String> = names.into_iter().collect();
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let Trigger::Event { pattern, .. } = &r.trigger else {
            continue;
        };
        for pick in 0..3 {
            for ro in [false, true] {
                for e in examples(pattern, pick, ro) {
                    out.extend(variants(&e, &names, i + pick));
                    out.push(e);
                }
            }
        }
    }
    let mut arrays = envelope(false);
    set_path(&mut arrays, "source", json!("aws.ec2"));
    set_path(
        &mut arrays,
        "detail.eventName",
        json!("ModifySnapshotAttribute"),
    );
    set_path(
        &mut arrays,
        "detail.requestParameters.createVolumePermission.add.items",
        json!([{"userId": "1"}, {"group": "all", "userId": "2"}]),
    );
    out.push(arrays);
    let mut world = envelope(false);
    set_path(&mut world, "source", json!("aws.ec2"));
    set_path(
        &mut world,
        "detail.eventName",
        json!("AuthorizeSecurityGroupIngress"),
    );
    set_path(
        &mut world,
        "detail.requestParameters.ipPermissions.items",
        json!([{"ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}, {"cidrIp": "0.0.0.0/0"}]}}]),
    );
    out.push(world);
    out
}

#[test]
fn shipped_like_rules_are_covered_soundly() {
    let rules = shipped_like();
    let events = events_for(&rules);
    let all = covers(&rules).expect("covers");
    assert_partition(&rules, &all);
    let checked = assert_sound(&rules, &all, &events);
    assert!(checked > 40, "only {checked} deliveries checked");
    let m = manifest(&rules);
    let both = manifest_covers(&m).expect("covers");
    assert_eq!(both.forwarding, all);
    assert_eq!(both.feeds.keys().collect::<Vec<_>>(), ["notify", "triage"]);
    for (handler, feeds) in &both.feeds {
        let mine: Vec<Rule> = rules
            .iter()
            .filter(|r| &r.handler == handler)
            .cloned()
            .collect();
        assert_partition(&mine, feeds);
        assert_sound(&mine, feeds, &events);
    }
}

#[test]
fn shipped_like_rules_get_readable_covers() {
    let all = covers(&shipped_like()).expect("covers");
    let ids: Vec<(&str, usize)> = all.iter().map(|c| (c.id.as_str(), c.rules.len())).collect();
    assert_eq!(
        ids,
        [
            ("ec2", 2),
            ("ec2-ro", 1),
            ("lambda", 2),
            ("logs-monitoring", 1),
            ("rds", 1),
            ("s3", 1),
            ("any-errorcode-ro", 1),
            ("any-useridentity-type-ro", 1)
        ]
    );
    let lambda = &all[2];
    assert_eq!(
        lambda.pattern,
        json!({"source": ["aws.lambda"], "detail-type": ["AWS API Call via CloudTrail"], "detail": {"eventSource": ["lambda.amazonaws.com"], "$or": [
            {"eventName": [{"prefix": "AddPermission"}], "requestParameters": {"functionUrlAuthType": ["NONE"]}},
            {"eventName": [{"prefix": "CreateFunctionUrlConfig"}, {"prefix": "UpdateFunctionUrlConfig"}], "requestParameters": {"authType": ["NONE"]}},
            {"eventName": [{"prefix": "DeleteFunction"}, {"prefix": "UpdateFunctionCode"}], "requestParameters": {"functionName": [{"prefix": "PatrolCentral"}, {"prefix": "arn:aws"}]}}
        ]}})
    );
    assert_eq!(
        all[6].pattern,
        json!({"detail-type": ["AWS API Call via CloudTrail"], "detail": {"errorCode": ["UnauthorizedOperation", {"prefix": "AccessDenied"}]}})
    );
    assert_eq!(
        all[6].state(),
        "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    );
}

#[test]
fn ids_do_not_move_when_another_group_changes() {
    let rules = shipped_like();
    let before = covers(&rules).expect("covers");
    let id_of = |cs: &[Cover], rule: &str| {
        cs.iter()
            .find(|c| c.rules.iter().any(|r| r == rule))
            .map(|c| c.id.clone())
    };
    let mut more = rules.clone();
    more.push(rule(
        "s3-new",
        json!({"source": ["aws.s3"], "detail": {"eventName": ["DeleteBucket"]}}),
        false,
        "notify",
    ));
    more.push(rule(
        "kms-new",
        json!({"source": ["aws.kms"], "detail": {"eventName": ["DisableKey"]}}),
        false,
        "notify",
    ));
    let after = covers(&more).expect("covers");
    let fewer: Vec<Rule> = rules
        .iter()
        .filter(|r| r.id != "rds-instance-made-public")
        .cloned()
        .collect();
    let removed = covers(&fewer).expect("covers");
    for r in &rules {
        assert_eq!(id_of(&before, &r.id), id_of(&after, &r.id), "{}", r.id);
        if r.id != "rds-instance-made-public" {
            assert_eq!(id_of(&before, &r.id), id_of(&removed, &r.id), "{}", r.id);
        }
    }
    assert_eq!(id_of(&after, "kms-new").as_deref(), Some("kms"));
    // Reordering the input changes nothing.
    let mut reversed = rules.clone();
    reversed.reverse();
    assert_eq!(covers(&reversed).expect("covers"), before);
}

#[test]
fn invalid_patterns_name_their_rule() {
    let bad = rule("bad-rule", json!({"source": []}), false, "notify");
    // Built by hand: validation would have rejected it.
    let err = covers([&bad]).expect_err("invalid");
    assert!(err.to_string().contains("bad-rule"), "{err}");
}

#[test]
fn other_triggers_are_skipped() {
    let mut r = rule("scheduled", json!({"source": ["x"]}), false, "notify");
    r.trigger = Trigger::Schedule {
        expression: "rate(1 day)".into(),
    };
    assert!(covers([&r]).expect("covers").is_empty());
}

#[test]
fn cover_matcher_respects_read_only_delivery() {
    let rules = shipped_like();
    let all = covers(&rules).expect("covers");
    let m = CoverMatcher::new(&all).expect("compiles");
    let mut e = envelope(true);
    set_path(&mut e, "source", json!("aws.ec2"));
    set_path(&mut e, "detail.eventName", json!("GetPasswordData"));
    let got: Vec<&str> = m
        .delivered(&e)
        .into_iter()
        .map(|i| all[i].id.as_str())
        .collect();
    assert_eq!(got, ["ec2-ro"]);
    set_path(&mut e, "detail.readOnly", json!(false));
    set_path(&mut e, "detail.eventName", json!("ModifySnapshotAttribute"));
    set_path(
        &mut e,
        "detail.requestParameters.createVolumePermission.add.items",
        json!([{"userId": "1", "group": "all"}]),
    );
    let got: Vec<&str> = m
        .delivered(&e)
        .into_iter()
        .map(|i| all[i].id.as_str())
        .collect();
    assert_eq!(got, ["ec2"]);
}

#[test]
fn a_thousand_rules_make_few_covers_within_every_limit() {
    let rules = many_rules(1000, 7);
    let m = manifest(&rules);
    let all = manifest_covers(&m).expect("covers");
    // About one cover per service and read-only flag (77 and 72 + 56 today).
    assert!(
        all.forwarding.len() <= 100,
        "{} forwarding covers",
        all.forwarding.len()
    );
    for (handler, feeds) in &all.feeds {
        assert!(feeds.len() <= 100, "{} feeds for {handler}", feeds.len());
    }
    assert_partition(&rules, &all.forwarding);
    for (handler, covers) in &all.feeds {
        let mine: Vec<Rule> = rules
            .iter()
            .filter(|r| &r.handler == handler)
            .cloned()
            .collect();
        assert_partition(&mine, covers);
    }
    // Soundness on examples of a sample of the rules (every rule's examples would take long
    // in a debug build) and their variants.
    let sample: Vec<Rule> = rules.iter().step_by(7).cloned().collect();
    let events = events_for(&sample);
    let checked = assert_sound(&rules, &all.forwarding, &events);
    assert!(checked > 200, "only {checked} deliveries checked");
    let notify: Vec<Rule> = rules
        .iter()
        .filter(|r| r.handler == "notify")
        .cloned()
        .collect();
    assert_sound(&notify, &all.feeds["notify"], &events);
}
