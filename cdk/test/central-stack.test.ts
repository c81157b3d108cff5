import { Match } from 'aws-cdk-lib/assertions';
import { Bundling } from 'cargo-lambda-cdk/lib/bundling';
import { describe, expect, it, vi } from 'vitest';
import { PATROL_RULE, PATROL_RULE_ID, PATROL_SINKS, RUST_LOG } from '../lib/env';
import type { EventTrigger } from '../lib/manifest';
import { CONTEXT_ARCHITECTURE, CONTEXT_CARGO_PROFILE, CONTEXT_OPERATORS_EMAIL } from '../lib/settings';
import { logicalId, readFixture, synthManifest, writeTempManifest } from './app-under-test';

const rootLogin = readFixture('root-console-login.json');
const mixed = readFixture('mixed.json');

describe('root-console-login manifest', () => {
  const { template } = synthManifest('root-console-login.json');

  it('encrypts each alert topic with its own rotated customer-managed key', () => {
    const keyId = logicalId(template, 'AWS::KMS::Key', 'Routesecurity');
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: 'Patrol security',
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    // route topic + operators topic, each with its key
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.resourceCountIs('AWS::KMS::Key', 2);
  });

  it('denies publishing to alert topics without TLS', () => {
    const topicId = logicalId(template, 'AWS::SNS::Topic', 'Routesecurity');
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Principal: '*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('subscribes the route email address', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'secops@example.com',
      TopicArn: { Ref: logicalId(template, 'AWS::SNS::Topic', 'Routesecurity') },
    });
  });

  it('puts the manifest pattern on the EventBridge rule verbatim', () => {
    const trigger = rootLogin.rules[0]!.trigger as EventTrigger;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals(trigger.pattern as Record<string, unknown>),
      State: 'ENABLED',
    });
  });

  it('targets the function with retries and a dead-letter queue', () => {
    const fnId = logicalId(template, 'AWS::Lambda::Function', 'Rulerootconsolelogin');
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'Rulerootconsolelogin');
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        {
          Id: 'Function',
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 14400 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
        },
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
  });

  it('builds the handler crate for provided.al2023 on arm64 with 128 MB', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      MemorySize: 128,
    });
  });

  it('passes the rule, its id and its sinks in the environment contract', () => {
    const topicId = logicalId(template, 'AWS::SNS::Topic', 'Routesecurity');
    const rule = rootLogin.rules[0]!;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [PATROL_RULE_ID]: 'root-console-login',
          [PATROL_RULE]: JSON.stringify(rule),
          [PATROL_SINKS]: {
            'Fn::Join': ['', ['[{"route":"security","type":"sns","topic_arn":"', { Ref: topicId }, '"}]']],
          },
          [RUST_LOG]: 'info',
        },
      },
    });
    expect(JSON.parse(JSON.stringify(rule))).toEqual(rule);
  });

  it('lets the function publish to its topic and use the topic key, nothing broader', () => {
    const topicId = logicalId(template, 'AWS::SNS::Topic', 'Routesecurity');
    const keyId = logicalId(template, 'AWS::KMS::Key', 'Routesecurity');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: topicId } },
          { Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } },
        ]),
      },
    });
    template.resourcePropertiesCountIs('AWS::IAM::Role', { ManagedPolicyArns: Match.anyValue() }, 0);
  });

  it('sends failed async invocations to the encrypted, TLS-only failure queue', () => {
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'Rulerootconsolelogin');
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' }),
        ]),
      },
    });
  });

  it('alarms the operators topic on the first failed event', () => {
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'Rulerootconsolelogin');
    const operatorsId = logicalId(template, 'AWS::SNS::Topic', 'Operators');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: operatorsId }],
    });
    // CloudWatch may publish to the encrypted operators topic (topic policy and key policy).
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: operatorsId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
        ]),
      },
    });
    // no operators email unless context asks for one
    template.resourceCountIs('AWS::SNS::Subscription', 1);
  });

  it('writes each function to its own log group with a retention, by aspect', () => {
    const logsId = logicalId(template, 'AWS::Logs::LogGroup', 'Rulerootconsolelogin');
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: logsId } } });
  });

  it('tags resources with the app, the rule and its severity', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([
        { Key: 'patrol:app', Value: 'patrol' },
        { Key: 'patrol:rule', Value: 'root-console-login' },
        { Key: 'patrol:severity', Value: 'critical' },
      ]),
    });
  });

  it('matches the snapshot', () => {
    expect(normalized(template.toJSON())).toMatchSnapshot();
  });
});

describe('mixed manifest', () => {
  const { template } = synthManifest('mixed.json');

  it('keeps operators such as anything-but, cidr, numeric and $or verbatim', () => {
    const trigger = mixed.rules.find((r) => r.id === 'secret-read-by-human')!.trigger as EventTrigger;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals(trigger.pattern as Record<string, unknown>),
    });
  });

  it('matches read-only management events when the rule asks for them', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.secretsmanager'] }),
      State: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
    });
  });

  it('turns a schedule trigger into a schedule rule', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      State: 'ENABLED',
      EventPattern: Match.absent(),
    });
  });

  it('grants the manifest permissions to that rule only', () => {
    const roleId = logicalId(template, 'AWS::IAM::Role', 'Rulestaleaccesskeys');
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId }],
      PolicyDocument: {
        Statement: Match.arrayWith([{ Action: ['iam:ListAccessKeys', 'iam:ListUsers'], Effect: 'Allow', Resource: '*' }]),
      },
    });
    const withListUsers = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p).includes('iam:ListUsers'),
    );
    expect(withListUsers).toHaveLength(1);
  });

  it('lists every route of a rule in PATROL_SINKS, in manifest order', () => {
    const security = logicalId(template, 'AWS::SNS::Topic', 'Routesecurity');
    const oncall = logicalId(template, 'AWS::SNS::Topic', 'Routeoncall');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [PATROL_RULE_ID]: 'root-console-login',
          [PATROL_SINKS]: {
            'Fn::Join': [
              '',
              [
                '[{"route":"security","type":"sns","topic_arn":"',
                { Ref: security },
                '"},{"route":"oncall","type":"sns","topic_arn":"',
                { Ref: oncall },
                '"}]',
              ],
            ],
          },
        }),
      },
    });
  });

  it('subscribes every email address and https endpoint', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ciso@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'https',
      Endpoint: 'https://hooks.example.com/patrol?team=sec',
    });
    template.resourceCountIs('AWS::SNS::Subscription', 3);
  });

  it('gives every rule its own function, failure queue and alarm', () => {
    template.resourceCountIs('AWS::Lambda::Function', 3);
    template.resourceCountIs('AWS::SQS::Queue', 3);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    template.resourceCountIs('AWS::Events::Rule', 3);
  });

  it('matches the snapshot', () => {
    expect(normalized(template.toJSON())).toMatchSnapshot();
  });
});

describe('suppressions compiled into the pattern', () => {
  it('deploys the deployed_pattern that patrol gives instead of the written pattern', () => {
    const rule = rootLogin.rules[0]!;
    const written = (rule.trigger as EventTrigger).pattern;
    const deployed = {
      ...written,
      detail: {
        ...(written.detail as Record<string, unknown>),
        sourceIPAddress: [{ 'anything-but': { prefix: '10.' } }],
      },
    };
    const file = writeTempManifest({
      ...rootLogin,
      rules: [{ ...rule, deployed_pattern: deployed, pattern_suppressions: [0] }],
    });
    synthManifest(file).template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals(deployed),
    });
  });
});

describe('context settings', () => {
  it('builds x86_64 functions when asked', () => {
    const { template } = synthManifest('root-console-login.json', { [CONTEXT_ARCHITECTURE]: 'x86_64' });
    template.hasResourceProperties('AWS::Lambda::Function', { Architectures: ['x86_64'] });
  });

  it('rejects an unknown architecture', () => {
    expect(() => synthManifest('root-console-login.json', { [CONTEXT_ARCHITECTURE]: 'riscv64' })).toThrow(
      /patrol:architecture=riscv64 is not supported; use one of: arm64, x86_64/,
    );
  });

  it('bundles with the release profile unless the context names another', () => {
    const bundle = vi.spyOn(Bundling, 'bundle');
    try {
      synthManifest('root-console-login.json');
      expect(bundle.mock.calls.map(([props]) => props.profile)).toEqual(['release']);
      bundle.mockClear();
      synthManifest('root-console-login.json', { [CONTEXT_CARGO_PROFILE]: 'lambda-dev' });
      expect(bundle.mock.calls.map(([props]) => props.profile)).toEqual(['lambda-dev']);
    } finally {
      bundle.mockRestore();
    }
  });

  it('rejects a cargo profile name that is not one', () => {
    expect(() => synthManifest('root-console-login.json', { [CONTEXT_CARGO_PROFILE]: '--release; rm' })).toThrow(
      /patrol:cargoProfile=--release; rm is not a cargo profile name/,
    );
  });

  it('subscribes the operators email from context', () => {
    const { template } = synthManifest('root-console-login.json', { [CONTEXT_OPERATORS_EMAIL]: 'ops@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: logicalId(template, 'AWS::SNS::Topic', 'Operators') },
    });
  });
});

describe('manifest kinds newer than the CDK app', () => {
  it('names the rule whose trigger type is not supported', () => {
    const [first, ...rest] = rootLogin.rules;
    const file = writeTempManifest({
      ...rootLogin,
      rules: [{ ...first!, trigger: { type: 'kinesis' } as unknown as EventTrigger }, ...rest],
    });
    expect(() => synthManifest(file)).toThrow(
      'rule `root-console-login`: trigger type `kinesis` is not supported by this CDK app ' +
        '(supported: event, schedule, sns, webhook); rebuild the patrol CLI and the CDK app from the same commit',
    );
  });

  it('names the route whose type is not supported', () => {
    const file = writeTempManifest({
      ...rootLogin,
      routes: [{ id: 'security', type: 'teams' } as unknown as (typeof rootLogin.routes)[number]],
    });
    expect(() => synthManifest(file)).toThrow(
      'route `security`: type `teams` is not supported by this CDK app (supported: sns, slack, pagerduty, webhook)',
    );
  });
});

/** Asset hashes follow the Rust sources; the snapshot is about the infrastructure. */
function normalized(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, '<asset-hash>'));
}
