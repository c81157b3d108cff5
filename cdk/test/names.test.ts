/**
 * The shipped `patrol-*-tampered` rules must match what the app really deploys. This test
 * synthesizes every stack of the shipped rules.toml (central, forwarders, organization and
 * the member template inside the StackSet), takes every physical name from the templates,
 * writes the CloudTrail record of tampering with each, and runs them through the real
 * `patrol replay`: each must raise a `patrol-*-tampered` alert. Renaming a resource without
 * updating the rules fails here.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MANIFEST, DEFAULT_PATROL_BIN } from '../lib/paths';
import { AUDIT_ROLE, CENTRAL_STACK, FORWARDER_STACK, MEMBER_STACKSET, ORGANIZATION_STACK, PREFIX } from '../lib/names';
import { synthManifest } from './app-under-test';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** One CloudTrail record of someone tampering with a named resource. */
interface Tamper {
  readonly what: string;
  readonly eventSource: string;
  readonly eventName: string;
  readonly requestParameters: Record<string, unknown>;
}

const ACCOUNT = '111111111111';
const REGION = 'eu-west-1';

function literal(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** What an attacker would call on each named resource of a template. */
function tampersOf(resources: Resources): Tamper[] {
  const out: Tamper[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    const add = (eventSource: string, eventName: string, requestParameters: Record<string, unknown>): void => {
      out.push({ what: `${r.Type} ${id}`, eventSource, eventName, requestParameters });
    };
    switch (r.Type) {
      case 'AWS::Events::Rule': {
        const name = literal(p.Name);
        if (name) {
          add('events.amazonaws.com', 'DisableRule', { name });
          add('events.amazonaws.com', 'RemoveTargets', { rule: name, ids: ['x'] });
        }
        break;
      }
      case 'AWS::Events::EventBus':
        add('events.amazonaws.com', 'DeleteEventBus', { name: literal(p.Name) });
        break;
      case 'AWS::Lambda::Function': {
        const name = literal(p.FunctionName);
        expect(name, `${id} has a physical name`).toBeDefined();
        add('lambda.amazonaws.com', 'UpdateFunctionCode20150331v2', { functionName: name });
        add('lambda.amazonaws.com', 'DeleteFunction20150331', {
          functionName: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
        });
        break;
      }
      case 'AWS::SNS::Topic': {
        const name = literal(p.TopicName);
        expect(name, `${id} has a physical name`).toBeDefined();
        add('sns.amazonaws.com', 'DeleteTopic', { topicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:${name}` });
        break;
      }
      case 'AWS::SQS::Queue': {
        const name = literal(p.QueueName);
        expect(name, `${id} has a physical name`).toBeDefined();
        add('sqs.amazonaws.com', 'PurgeQueue', { queueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}` });
        break;
      }
      case 'AWS::CloudWatch::Alarm': {
        const name = literal(p.AlarmName);
        expect(name, `${id} has a physical name`).toBeDefined();
        add('monitoring.amazonaws.com', 'DeleteAlarms', { alarmNames: [name] });
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = literal(p.LogGroupName);
        expect(name, `${id} has a physical name`).toBeDefined();
        add('logs.amazonaws.com', 'DeleteLogGroup', { logGroupName: name });
        break;
      }
      case 'AWS::DynamoDB::Table':
        add('dynamodb.amazonaws.com', 'DeleteTable', { tableName: literal(p.TableName) });
        break;
      case 'AWS::IAM::Role': {
        const name = literal(p.RoleName) ?? (typeof p.RoleName === 'object' ? 'patrol-notify-eu-west-1' : undefined);
        expect(name, `${id} has a physical name`).toBeDefined();
        add('iam.amazonaws.com', 'PutRolePolicy', { roleName: name, policyName: 'x', policyDocument: '{}' });
        break;
      }
      case 'AWS::CloudFormation::StackSet':
        add('cloudformation.amazonaws.com', 'DeleteStackSet', { stackSetName: literal(p.StackSetName) });
        break;
      default:
        break;
    }
  }
  return out;
}

function record(t: Tamper, i: number): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/mallory`, accountId: ACCOUNT, userName: 'mallory' },
    eventTime: '2026-12-01T10:00:00Z',
    eventSource: t.eventSource,
    eventName: t.eventName,
    awsRegion: REGION,
    sourceIPAddress: '203.0.113.9',
    userAgent: 'aws-cli/2.15.40',
    requestParameters: t.requestParameters,
    responseElements: null,
    eventID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
  };
}

describe.runIf(fs.existsSync(DEFAULT_PATROL_BIN))('physical names and the patrol-*-tampered rules', () => {
  it('raise a tampered alert for every named resource of every stack and the member template', { timeout: 240_000 }, () => {
    const { patrol } = synthManifest(DEFAULT_MANIFEST, {}, DEFAULT_PATROL_BIN);
    const stacks = [patrol.central, ...patrol.forwarders.central, ...patrol.forwarders.management];
    const resources: Resources = {};
    for (const stack of stacks) {
      Object.assign(resources, Template.fromStack(stack).toJSON().Resources as Resources);
    }
    expect(patrol.organization).toBeDefined();
    const org = Template.fromStack(patrol.organization!).toJSON().Resources as Resources;
    Object.assign(resources, org);
    const member = JSON.parse(patrol.organization!.templateBody) as { Resources: Resources };
    Object.assign(resources, member.Resources);

    const tampers = tampersOf(resources);
    // Every kind of resource Patrol names is covered.
    const kinds = new Set(tampers.map((t) => t.eventSource));
    expect([...kinds].sort()).toEqual(
      ['cloudformation', 'dynamodb', 'events', 'iam', 'lambda', 'logs', 'monitoring', 'sns', 'sqs'].map((s) => `${s}.amazonaws.com`),
    );
    // Stack names, which CloudFormation events carry, come from the same prefix; so does the
    // audit role's, which exists only with audit rules (patrol-deployment-tampered watches
    // every `patrol-` role).
    for (const name of [CENTRAL_STACK, FORWARDER_STACK, ORGANIZATION_STACK, MEMBER_STACKSET, AUDIT_ROLE]) {
      expect(name.startsWith(`${PREFIX}-`), name).toBe(true);
    }
    // The audit role is created only when a rule uses an audit handler; tampering with it
    // must alert all the same.
    tampers.push({
      what: `role ${AUDIT_ROLE}`,
      eventSource: 'iam.amazonaws.com',
      eventName: 'UpdateAssumeRolePolicy',
      requestParameters: { roleName: AUDIT_ROLE, policyDocument: '{}' },
    });
    tampers.push(
      ...[CENTRAL_STACK, FORWARDER_STACK, ORGANIZATION_STACK, `StackSet-${MEMBER_STACKSET}-0f1e2d3c`].map((stackName) => ({
        what: `stack ${stackName}`,
        eventSource: 'cloudformation.amazonaws.com',
        eventName: 'DeleteStack',
        requestParameters: { stackName },
      })),
    );

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patrol-names-'));
    const events = path.join(dir, 'tamper.jsonl');
    fs.writeFileSync(events, tampers.map((t, i) => JSON.stringify(record(t, i))).join('\n') + '\n');
    const alertsFile = path.join(dir, 'alerts.jsonl');
    const run = spawnSync(
      DEFAULT_PATROL_BIN,
      ['replay', '--manifest', DEFAULT_MANIFEST, '--format', 'json', '--alerts', alertsFile, events],
      { encoding: 'utf8' },
    );
    expect(run.status, run.stderr).toBe(0);
    const alerts = fs
      .readFileSync(alertsFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { rule: string; event_id?: string });
    const alerted = new Set(alerts.filter((a) => /^patrol-.*-tampered$/.test(a.rule)).map((a) => a.event_id));
    const missed = tampers.filter((_, i) => !alerted.has(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`));
    expect(missed.map((t) => `${t.what}: ${t.eventName} ${JSON.stringify(t.requestParameters)}`)).toEqual([]);
  });
});
