/**
 * A realistic manifest of any number of rules, for the scale tests and `make bench-synth`:
 * CloudTrail rules across 40 services (event name lists, request-parameter filters, some
 * `$or`, some `wildcard`, some read-only), plus scheduled, SNS and webhook rules, five sns
 * routes, Slack and PagerDuty, and an organization-wide `[deploy]`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SERVICES = [
  'iam', 's3', 'ec2', 'kms', 'lambda', 'rds', 'sns', 'sqs', 'dynamodb', 'cloudtrail', 'config', 'guardduty',
  'organizations', 'sts', 'secretsmanager', 'ssm', 'ecr', 'ecs', 'eks', 'elasticloadbalancing', 'cloudformation',
  'logs', 'monitoring', 'events', 'route53', 'cloudfront', 'acm', 'apigateway', 'cognito-idp', 'glue', 'athena',
  'redshift', 'elasticache', 'es', 'kinesis', 'firehose', 'backup', 'efs', 'fsx', 'waf',
];
const VERBS = ['Create', 'Delete', 'Update', 'Put', 'Modify', 'Attach', 'Detach', 'Enable', 'Disable', 'Remove'];
const NOUNS = ['Policy', 'Resource', 'Configuration', 'Permission', 'Tag', 'Setting', 'Key', 'Rule', 'Group', 'Role'];

/** `count` rules; rule i is the same in every manifest, so a smaller one is a prefix of a larger one. */
export function generatedRules(count: number): string[] {
  const rules: string[] = [];
  for (let i = 0; i < count; i++) {
    const service = SERVICES[i % SERVICES.length]!;
    const source = service === 'monitoring' ? 'aws.cloudwatch' : `aws.${service}`;
    const names = [0, 1, 2].map((k) => `${VERBS[(i + k) % VERBS.length]}${NOUNS[(Math.floor(i / 10) + k) % NOUNS.length]}`);
    const id = `gen-${String(i).padStart(4, '0')}-${service}`;
    const head = `[rules.${id}]\ndescription = "Generated rule ${i} on ${service}"\nseverity = "${['low', 'medium', 'high'][i % 3]}"\n`;
    const tests = 'tests = [{ event = "a.json", expect = "alert" }, { event = "b.json", expect = "quiet" }]\n';
    const message = 'message = "{{ detail.eventName }} by {{ actor }}"\n';
    const kind = i % 50;
    if (kind === 7) {
      rules.push(`${head}trigger.schedule = "rate(${1 + (i % 6)} hours)"\nmessage = "audit ${i}"\n`);
      continue;
    }
    if (kind === 17) {
      rules.push(
        `${head}trigger.sns = { topic = "arn:aws:sns:eu-west-1:333333333333:findings-${i % 5}", filter_policy = { severity = [{ numeric = [">=", ${i % 9}] }] } }\n${message}${tests}`,
      );
      continue;
    }
    if (kind === 27) {
      rules.push(`${head}trigger.webhook = { provider = "github", secret = "patrol/github-${i % 3}" }\n${message}${tests}`);
      continue;
    }
    let detail = `eventSource = ["${service}.amazonaws.com"], eventName = ${JSON.stringify(names)}`;
    if (i % 4 === 1) {
      detail += `, requestParameters = { name = [{ prefix = "prod-${i}" }] }`;
    }
    if (i % 9 === 2) {
      detail += `, userIdentity = { arn = [{ wildcard = "arn:aws:iam::*:role/ops-${i}-*" }] }`;
    }
    if (i % 13 === 3) {
      detail += `, errorCode = ["AccessDenied", "UnauthorizedOperation"]`;
    }
    const readOnly = i % 31 === 5 ? '\ninclude_read_only = true' : '';
    const pattern = `trigger.pattern = { source = ["${source}"], detail-type = ["AWS API Call via CloudTrail"], detail = { ${detail} } }${readOnly}\n`;
    rules.push(`${head}${pattern}${message}notify = ["team-${i % 5}"${i % 7 === 0 ? ', "slack-sec"' : ''}]\n${tests}`);
  }
  return rules;
}

export const GENERATED_HEADER = `[defaults]
notify = ["team-0"]

[notify.slack-sec]
type = "slack"
secret = "patrol/slack-sec"

[notify.oncall]
type = "pagerduty"
secret = "patrol/pagerduty"
${[0, 1, 2, 3, 4].map((t) => `\n[notify.team-${t}]\ntype = "sns"\nemail = ["team-${t}@example.com"]\n`).join('')}
[deploy]
central = { account = "123456789013", region = "eu-west-1" }
regions = ["eu-west-1", "eu-central-1", "us-west-2"]
organization = { id = "o-k3j5h7g9f1", management_account = "210987654321", targets = ["ou-k3j5-h7g9f1d3", "ou-k3j5-a2b4c6d8"] }
operators = ["secops@example.com"]
`;

/** Writes a rules.toml of these rules (and the test event files it names) to a fresh folder. */
export function writeGeneratedManifest(rules: readonly string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patrol-generated-'));
  for (const file of ['a.json', 'b.json']) {
    fs.writeFileSync(path.join(dir, file), '{}\n');
  }
  const file = path.join(dir, 'rules.toml');
  fs.writeFileSync(file, `${GENERATED_HEADER}\n${rules.join('\n')}`);
  return file;
}
