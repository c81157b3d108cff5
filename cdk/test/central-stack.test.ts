import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import type { PatrolCentralStack } from '../lib/central-stack';
import { Bundling } from 'cargo-lambda-cdk/lib/bundling';
import { describe, expect, it, vi } from 'vitest';
import {
  PATROL_CONFIG,
  PATROL_FAILURE_QUEUE_URL,
  PATROL_FUNCTION_TIMEOUT_SECONDS,
  PATROL_STATE_TABLE,
  PATROL_TOPIC_ARN_PREFIX,
  RUST_LOG,
} from '../lib/env';
import { CONFIG_PATH, type HandlerConfig } from '../lib/handler-config';
import { CONTEXT_ARCHITECTURE, CONTEXT_CARGO_PROFILE, CONTEXT_OPERATORS_EMAIL } from '../lib/settings';
import { logicalId, readFixture, synthManifest, writeTempManifest } from './app-under-test';

const rootLogin = readFixture('root-console-login.json');

/** The config file a handler's layer carries, read back from the folder the layer is made of. */
function layerConfig(stack: PatrolCentralStack, handler: string): HandlerConfig {
  const fn = stack.functions.get(handler);
  expect(fn, handler).toBeDefined();
  return JSON.parse(fs.readFileSync(path.join(fn!.configDir, 'patrol', 'config.json'), 'utf8')) as HandlerConfig;
}

describe('root-console-login manifest', () => {
  const { stack, template } = synthManifest('root-console-login.json');

  it('creates the central bus every account forwards to', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'patrol-central' });
    // one account, no organization: no bus policy needed
    template.resourceCountIs('AWS::Events::EventBusPolicy', 0);
  });

  it('forwards the central region\'s own events from the default bus, with no role', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'patrol-forward-signin',
      EventPattern: Match.objectEquals(rootLogin.covers.forwarding[0]!.pattern as Record<string, unknown>),
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Bus'), 'Arn'] } })],
    });
  });

  it('feeds the handler function from the central bus with the cover, naming the feed in the input', () => {
    const fnId = logicalId(template, 'AWS::Lambda::Function', 'Handlernotify');
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'HandlernotifyFailures');
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'patrol-feed-notify-signin',
      EventBusName: { Ref: Match.stringLikeRegexp('^Bus') },
      EventPattern: Match.objectEquals(rootLogin.covers.feeds.notify![0]!.pattern as Record<string, unknown>),
      State: 'ENABLED',
      Targets: [
        {
          Id: 'Function',
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          InputTransformer: { InputTemplate: '{"patrol":{"feed":"signin"},"event":<aws.events.event.json>}' },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 14400 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
        },
      ],
    });
  });

  it('lets every feed invoke the function through one permission, by rule-name prefix', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'events.amazonaws.com',
      SourceArn: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([':rule/', ])] }),
    });
    const permissions = template.findResources('AWS::Lambda::Permission');
    expect(JSON.stringify(permissions)).toContain('/patrol-feed-notify-*');
  });

  it('builds one function per handler for provided.al2023 on arm64, its rules in a layer', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'patrol-notify',
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      Layers: [{ Ref: logicalId(template, 'AWS::Lambda::LayerVersion', 'HandlernotifyConfig') }],
    });
  });

  it('bundles the rules, routes and feeds in the layer file, not the environment', () => {
    const config = layerConfig(stack, 'notify');
    expect(config.handler).toBe('notify');
    expect(config.rules.map((r) => r.id)).toEqual(['root-console-login']);
    expect(config.rules[0]).not.toHaveProperty('deployed_pattern');
    expect(config.routes).toEqual([{ type: 'sns', route: 'security', topic_name: 'patrol-security' }]);
    expect(config.feeds).toEqual({ signin: ['root-console-login'] });
    expect(config.schedules).toEqual({});
  });

  it('passes only names and paths in the environment', () => {
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'HandlernotifyFailures');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [PATROL_CONFIG]: CONFIG_PATH,
          [PATROL_TOPIC_ARN_PREFIX]: { 'Fn::Sub': 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:' },
          [PATROL_STATE_TABLE]: { Ref: logicalId(template, 'AWS::DynamoDB::Table', 'State') },
          [PATROL_FAILURE_QUEUE_URL]: { Ref: queueId },
          [PATROL_FUNCTION_TIMEOUT_SECONDS]: '60',
          [RUST_LOG]: 'info',
        },
      },
    });
  });

  it("tells each handler function its own timeout (the dedup claim's in-flight time)", () => {
    const functions = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { [PATROL_CONFIG]: CONFIG_PATH } } },
      }),
    );
    expect(functions.length).toBeGreaterThan(0);
    for (const f of functions) {
      const props = f.Properties as { Timeout: number; Environment: { Variables: Record<string, string> } };
      expect(props.Environment.Variables[PATROL_FUNCTION_TIMEOUT_SECONDS]).toBe(String(props.Timeout));
    }
  });

  it('names the topics so the function can build their ARNs', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'patrol-security' });
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'patrol-operators' });
  });

  it('lets the function publish to its topic, use the state table and its queue, nothing broader', () => {
    const topicId = logicalId(template, 'AWS::SNS::Topic', 'Routesecurity');
    const tableId = logicalId(template, 'AWS::DynamoDB::Table', 'State');
    const statements = [
      { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: topicId } },
      {
        // item access for the ledger and dedup, Scan for the forwarding watchdog
        Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
      },
    ];
    for (const statement of statements) {
      template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([statement]) } });
    }
    template.resourcePropertiesCountIs('AWS::IAM::Role', { ManagedPolicyArns: Match.anyValue() }, 0);
  });

  it('keeps the state table on demand, encrypted, recoverable and retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        TableName: 'patrol-state',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('sends failed async invocations to the encrypted, TLS-only failure queue', () => {
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'HandlernotifyFailures');
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'patrol-notify-failures', SqsManagedSseEnabled: true });
  });

  it('alarms the operators on every failure sent to the queue, not on visible messages', () => {
    const operatorsId = logicalId(template, 'AWS::SNS::Topic', 'Operators');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'patrol-notify-failures-received',
      Namespace: 'AWS/SQS',
      MetricName: 'NumberOfMessagesSent',
      Statistic: 'Sum',
      Threshold: 1,
      AlarmActions: [{ Ref: operatorsId }],
    });
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible' }, 0);
  });

  it('alarms on function errors and throttles, on ALARM and on OK', () => {
    const operatorsId = logicalId(template, 'AWS::SNS::Topic', 'Operators');
    for (const metric of ['Errors', 'Throttles']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        AlarmActions: [{ Ref: operatorsId }],
        OKActions: [{ Ref: operatorsId }],
      });
    }
  });

  it('warns loudly when no one would hear an alarm', () => {
    const warnings = stack.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data));
    expect(warnings.join('\n')).toMatch(/NO ONE HEARS PATROL FAILURE ALARMS/);
  });

  it('tags resources with the app and the handler', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([
        { Key: 'patrol:app', Value: 'patrol' },
        { Key: 'patrol:handler', Value: 'notify' },
      ]),
    });
  });

  it('matches the snapshot', () => {
    expect(normalized(template.toJSON())).toMatchSnapshot();
  });
});

describe('context settings', () => {
  it('builds x86_64 functions when asked', () => {
    const { template } = synthManifest('root-console-login.json', { [CONTEXT_ARCHITECTURE]: 'x86_64' });
    template.hasResourceProperties('AWS::Lambda::Function', { Architectures: ['x86_64'] });
  });

  it('rejects an unknown architecture', () => {
    expect(() => synthManifest('root-console-login.json', { [CONTEXT_ARCHITECTURE]: 'sparc' })).toThrow(
      /patrol:architecture=sparc is not supported; use one of: arm64, x86_64/,
    );
  });

  it('bundles with the release profile unless the context names another', () => {
    const bundle = vi.spyOn(Bundling, 'bundle');
    try {
      synthManifest('root-console-login.json');
      expect(bundle.mock.calls.at(-1)?.[0]).toMatchObject({ profile: 'release' });
      synthManifest('root-console-login.json', { [CONTEXT_CARGO_PROFILE]: 'lambda-dev' });
      expect(bundle.mock.calls.at(-1)?.[0]).toMatchObject({ profile: 'lambda-dev' });
    } finally {
      bundle.mockRestore();
    }
  });

  it('rejects a cargo profile name that is not one', () => {
    expect(() => synthManifest('root-console-login.json', { [CONTEXT_CARGO_PROFILE]: 'rel ease' })).toThrow(
      /patrol:cargoProfile=rel ease is not a cargo profile name/,
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
  it('names the route whose type is not supported', () => {
    const file = writeTempManifest({
      ...rootLogin,
      routes: [{ id: 'security', type: 'carrier-pigeon' } as unknown as (typeof rootLogin.routes)[number]],
    });
    expect(() => synthManifest(file)).toThrow(/route `security`: type `carrier-pigeon` is not supported by this CDK app/);
  });
});

function normalized(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, '<asset-hash>'));
}

describe('organization manifest', () => {
  const { stack, template } = synthManifest('org.json');

  it('deploys the central stack into [deploy].central', () => {
    expect(stack.account).toBe('210987654321');
    expect(stack.region).toBe('eu-west-1');
    expect(stack.stackName).toBe('patrol-central');
  });

  it('admits events:PutEvents on the central bus from the whole organization', () => {
    template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      EventBusName: { Ref: Match.stringLikeRegexp('^Bus') },
      Statement: {
        Action: 'events:PutEvents',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Condition: { StringEquals: { 'aws:PrincipalOrgID': Match.stringLikeRegexp('^o-') } },
      },
    });
  });

  it('subscribes [deploy].operators to the operators topic, so alarms reach someone', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      TopicArn: { Ref: logicalId(template, 'AWS::SNS::Topic', 'Operators') },
    });
    const warnings = stack.node.metadata.filter((m) => m.type === 'aws:cdk:warning');
    expect(warnings).toEqual([]);
  });
});

describe('forwarding watch', () => {
  const { template } = synthManifest('root-console-login.json');
  const fnArn = { 'Fn::GetAtt': [logicalId(template, 'AWS::Lambda::Function', 'Handlernotify'), 'Arn'] };

  it('hands every heartbeat on the central bus to the notify function', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'patrol-heartbeats',
      EventBusName: { Ref: Match.stringLikeRegexp('^Bus') },
      EventPattern: {
        source: ['aws.events'],
        'detail-type': ['Scheduled Event'],
        resources: [{ suffix: ':rule/patrol-heartbeat' }],
      },
      Targets: [Match.objectLike({ Arn: fnArn, InputTransformer: { InputTemplate: '{"patrol":{"heartbeat":{}},"event":<aws.events.event.json>}' } })],
    });
  });

  it('runs the watchdog every 15 minutes, silent after 30', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'patrol-watchdog',
      ScheduleExpression: 'rate(15 minutes)',
      Targets: [
        Match.objectLike({
          Arn: fnArn,
          InputTransformer: { InputTemplate: '{"patrol":{"watchdog":{"silent_after_seconds":1800}},"event":<aws.events.event.json>}' },
        }),
      ],
    });
  });

  it('alarms when an account or region goes silent, and when no heartbeat arrives at all', () => {
    const operatorsId = logicalId(template, 'AWS::SNS::Topic', 'Operators');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'patrol-forwarding-silent',
      Namespace: 'Patrol',
      MetricName: 'SilentForwarders',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: operatorsId }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'patrol-heartbeats-missing',
      Namespace: 'Patrol',
      MetricName: 'Heartbeats',
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });
});
