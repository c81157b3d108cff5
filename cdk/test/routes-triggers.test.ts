import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { HandlerConfig } from '../lib/handler-config';
import type { SnsTrigger } from '../lib/manifest';
import { logicalId, readFixture, synthManifest } from './app-under-test';

// Every route type (sns, slack, pagerduty with a secret ARN, webhook with and without a
// secret), every trigger type (event, schedule, sns in and out of the stack's region,
// webhook with a secret name and a secret ARN) and dedup on two rules, all for notify; and
// one scheduled rule of the audit handler.
const allFeatures = readFixture('all-features.json');
const { stack, template } = synthManifest('all-features.json');
const notify = stack.functions.get('notify')!;
const config = JSON.parse(fs.readFileSync(path.join(notify.configDir, 'patrol', 'config.json'), 'utf8')) as HandlerConfig;

const GUARDDUTY_TOPIC = 'arn:aws:sns:us-east-1:111111111111:guardduty';
const EU_ALARMS_TOPIC = 'arn:aws:sns:eu-west-1:222222222222:alarms';
const PAGERDUTY_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:patrol/pagerduty-AbCdEf';
const GENERIC_HOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:patrol/generic-hook-XyZ123';

/** What a secret *name* becomes in a policy: this account and region, any 6-character suffix. */
function secretNameArn(name: string): unknown {
  return { 'Fn::Join': ['', ['arn:aws:secretsmanager:us-east-1:', { Ref: 'AWS::AccountId' }, `:secret:${name}-??????`]] };
}

const fnId = logicalId(template, 'AWS::Lambda::Function', 'HandlernotifyFunction');
const fnArn = { 'Fn::GetAtt': [fnId, 'Arn'] };
const queueId = logicalId(template, 'AWS::SQS::Queue', 'HandlernotifyFailures');
const queueArn = { 'Fn::GetAtt': [queueId, 'Arn'] };

function statements(): Array<Record<string, unknown>> {
  const id = logicalId(template, 'AWS::IAM::Policy', 'HandlernotifyRole');
  const policy = template.toJSON().Resources[id] as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } };
  return policy.Properties.PolicyDocument.Statement;
}

describe('sns trigger', () => {
  it('subscribes the function to each topic once, with its only rule\'s filter policy and scope verbatim', () => {
    const trigger = allFeatures.rules.find((r) => r.id === 'guardduty-high')!.trigger as SnsTrigger;
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: GUARDDUTY_TOPIC,
      Protocol: 'lambda',
      Endpoint: fnArn,
      FilterPolicy: Match.objectEquals(trigger.filter_policy as Record<string, unknown>),
      FilterPolicyScope: 'MessageBody',
      Region: Match.absent(),
    });
    template.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'lambda' }, 2);
  });

  it('keeps messages SNS cannot deliver in the handler failure queue, which lets that topic write', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: GUARDDUTY_TOPIC,
      RedrivePolicy: { deadLetterTargetArn: queueArn },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'UndeliverableMessagesFromTopic',
            Principal: { Service: 'sns.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': GUARDDUTY_TOPIC } },
          }),
        ]),
      },
    });
  });

  it('lets only the subscribed topics invoke the function, one permission each', () => {
    for (const topic of [GUARDDUTY_TOPIC, EU_ALARMS_TOPIC]) {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'sns.amazonaws.com',
        SourceArn: topic,
        FunctionName: fnArn,
      });
    }
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'sns.amazonaws.com' }, 2);
  });

  it('subscribes in the topic region when it is not the stack region, without a redrive SNS would refuse', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: EU_ALARMS_TOPIC,
      Region: 'eu-west-1',
      FilterPolicy: Match.absent(),
      RedrivePolicy: Match.absent(),
    });
    const info = Annotations.fromStack(stack).findInfo('*', Match.stringLikeRegexp('is in eu-west-1, not the stack.s region'));
    expect(info).toHaveLength(1);
  });

  it('decides the redrive at deploy time when the stack region is unknown at synth', () => {
    const agnostic = synthManifest('all-features.json', {}, undefined, { env: {} }).template;
    const conditions = agnostic.toJSON().Conditions as Record<string, unknown>;
    const euCondition = Object.keys(conditions).find((id) => id.includes('StackInTopicRegion'));
    expect(conditions[euCondition!]).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] });
    agnostic.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: EU_ALARMS_TOPIC,
      RedrivePolicy: { 'Fn::If': [euCondition, Match.anyValue(), { Ref: 'AWS::NoValue' }] },
    });
  });
});

const webhookFnId = logicalId(template, 'AWS::Lambda::Function', 'HandlernotifyWebhookFunction');

describe('webhook trigger', () => {
  it('serves webhooks from a function of their own, behind one URL without IAM auth', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [webhookFnId, 'Arn'] },
    });
  });

  it('reserves the webhook function\'s concurrency, so a flood cannot starve the other rules', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'patrol-notify-webhooks',
      ReservedConcurrentExecutions: 10,
      MemorySize: 512,
      Layers: [{ Ref: logicalId(template, 'AWS::Lambda::LayerVersion', 'HandlernotifyConfig') }],
    });
    // the event, schedule and SNS function has no reservation to run out of
    const main = template.toJSON().Resources[fnId] as { Properties: Record<string, unknown> };
    expect(main.Properties.ReservedConcurrentExecutions).toBeUndefined();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'patrol-notify-webhooks-throttles' });
  });

  it('takes the reserved concurrency from context, and rejects nonsense', () => {
    const custom = synthManifest('all-features.json', { 'patrol:webhookConcurrency': 25 }).template;
    custom.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'patrol-notify-webhooks', ReservedConcurrentExecutions: 25 });
    expect(() => synthManifest('all-features.json', { 'patrol:webhookConcurrency': 'many' })).toThrow(
      /patrol:webhookConcurrency=many is not a whole number from 1 to 1000/,
    );
  });

  it('outputs the base URL and names the webhook rules (URL = base + rule id)', () => {
    const outputs = Object.values(template.findOutputs('*'));
    expect(outputs).toHaveLength(1);
    expect(outputs[0]).toEqual({
      Description: expect.stringMatching(/webhook base URL; each webhook rule's URL is this followed by the rule id \(generic-hook, github-public-repo\)/),
      Value: { 'Fn::GetAtt': [logicalId(template, 'AWS::Lambda::Url', 'HandlernotifyWebhookFunctionFunctionUrl'), 'FunctionUrl'] },
    });
  });

  it('lets the handler write what it failed on to its failure queue', () => {
    expect(statements()).toContainEqual(
      expect.objectContaining({ Action: expect.arrayContaining(['sqs:SendMessage']), Effect: 'Allow', Resource: queueArn }),
    );
  });
});

describe('schedules', () => {
  it('runs each distinct schedule expression as one rule on the default bus, naming its group', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'patrol-schedule-notify-rate-1-day',
      ScheduleExpression: 'rate(1 day)',
      EventBusName: Match.absent(),
      Targets: [
        Match.objectLike({
          Arn: fnArn,
          InputTransformer: { InputTemplate: '{"patrol":{"schedule":"rate-1-day"},"event":<aws.events.event.json>}' },
          DeadLetterConfig: { Arn: queueArn },
        }),
      ],
    });
    expect(config.schedules).toEqual({ 'rate-1-day': ['stale-access-keys'] });
  });

  it('alarms when a schedule stops running (two intervals without an invocation)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'patrol-notify-rate-1-day-missed',
      Namespace: 'AWS/Events',
      MetricName: 'Invocations',
      Period: 86400,
      EvaluationPeriods: 2,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('grants notify nothing on `*`: it declares no permissions', () => {
    expect(statements().filter((s) => s.Resource === '*')).toEqual([]);
    expect(notify.permissions).toEqual([]);
    expect(notify.declaredPolicies).toBeUndefined();
  });
});

describe('secrets', () => {
  it('grants GetSecretValue on exactly the secrets of the routes and webhook triggers', () => {
    const secret = statements().filter((s) => s.Action === 'secretsmanager:GetSecretValue');
    expect(secret).toEqual([
      {
        Action: 'secretsmanager:GetSecretValue',
        Effect: 'Allow',
        Resource: [
          GENERIC_HOOK_SECRET_ARN,
          PAGERDUTY_SECRET_ARN,
          secretNameArn('patrol/github-webhook'),
          secretNameArn('patrol/siem-signing'),
          secretNameArn('patrol/slack-sec'),
        ],
      },
    ]);
  });

  it('grants nothing broader on secrets anywhere', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(JSON.stringify(policies)).not.toMatch(/secret:[^"]*\*/);
  });
});

describe('routes in the config file', () => {
  it('lists every route the handler uses, secrets as written, topics by name', () => {
    expect(config.routes).toEqual([
      { type: 'webhook', route: 'audit-log', url: 'https://audit.example.com/ingest' },
      { type: 'pagerduty', route: 'oncall', secret: PAGERDUTY_SECRET_ARN },
      { type: 'sns', route: 'security', topic_name: 'patrol-security' },
      { type: 'webhook', route: 'siem', url: 'https://siem.example.com/patrol', secret: 'patrol/siem-signing' },
      { type: 'slack', route: 'slack-sec', secret: 'patrol/slack-sec' },
    ]);
  });

  it('carries every rule of the handler as normalized, without the deployed pattern', () => {
    expect(config.rules.map((r) => r.id)).toEqual(allFeatures.rules.filter((r) => r.handler === 'notify').map((r) => r.id));
    for (const rule of config.rules) {
      expect(rule).not.toHaveProperty('deployed_pattern');
    }
  });

  it('creates no AWS resources for slack, pagerduty and webhook routes', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.resourceCountIs('AWS::KMS::Key', 2);
  });
});

describe('all-features manifest', () => {
  it('matches the snapshot', () => {
    expect(normalized(template.toJSON())).toMatchSnapshot();
  });
});

/** Asset hashes follow the Rust sources; the snapshot is about the infrastructure. */
function normalized(t: unknown): unknown {
  return JSON.parse(JSON.stringify(t).replace(/[0-9a-f]{64}/g, '<asset-hash>'));
}
