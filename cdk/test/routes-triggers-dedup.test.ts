import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PATROL_DEDUP_TABLE, PATROL_FAILURE_QUEUE_URL, PATROL_RULE_ID, PATROL_SINKS } from '../lib/env';
import type { SnsTrigger } from '../lib/manifest';
import { logicalId, readFixture, synthManifest } from './app-under-test';

// Every route type (sns, slack, pagerduty with a secret ARN, webhook with and without a
// secret), every trigger type (event, schedule, sns in and out of the stack's region,
// webhook with a secret name and a secret ARN) and dedup on two rules.
const allFeatures = readFixture('all-features.json');
const { stack, template } = synthManifest('all-features.json');

const GUARDDUTY_TOPIC = 'arn:aws:sns:us-east-1:111111111111:guardduty';
const EU_ALARMS_TOPIC = 'arn:aws:sns:eu-west-1:222222222222:alarms';
const PAGERDUTY_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:patrol/pagerduty-AbCdEf';
const GENERIC_HOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:patrol/generic-hook-XyZ123';

/** What a secret *name* becomes in a policy: this account and region, any 6-character suffix. */
function secretNameArn(name: string): unknown {
  return { 'Fn::Join': ['', ['arn:aws:secretsmanager:us-east-1:', { Ref: 'AWS::AccountId' }, `:secret:${name}-??????`]] };
}

/** The statements of the default policy of rule `ruleId`'s role. */
function ruleStatements(t: Template, ruleId: string): Array<Record<string, unknown>> {
  const prefix = `Rule${ruleId.replace(/-/g, '')}`;
  const id = logicalId(t, 'AWS::IAM::Policy', `${prefix}Role`);
  const policy = t.toJSON().Resources[id] as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } };
  return policy.Properties.PolicyDocument.Statement;
}

/** The environment variables of rule `ruleId`'s function. */
function ruleEnvironment(t: Template, ruleId: string): Record<string, unknown> {
  const id = logicalId(t, 'AWS::Lambda::Function', `Rule${ruleId.replace(/-/g, '')}Function`);
  const fn = t.toJSON().Resources[id] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return fn.Properties.Environment.Variables;
}

function fnArn(ruleId: string): unknown {
  return { 'Fn::GetAtt': [logicalId(template, 'AWS::Lambda::Function', `Rule${ruleId.replace(/-/g, '')}Function`), 'Arn'] };
}

function queueArn(ruleId: string): unknown {
  return { 'Fn::GetAtt': [logicalId(template, 'AWS::SQS::Queue', `Rule${ruleId.replace(/-/g, '')}`), 'Arn'] };
}

describe('sns trigger', () => {
  it('subscribes the function to the topic with the filter policy and scope verbatim', () => {
    const trigger = allFeatures.rules.find((r) => r.id === 'guardduty-high')!.trigger as SnsTrigger;
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: GUARDDUTY_TOPIC,
      Protocol: 'lambda',
      Endpoint: fnArn('guardduty-high'),
      FilterPolicy: Match.objectEquals(trigger.filter_policy as Record<string, unknown>),
      FilterPolicyScope: 'MessageBody',
      // same region as the stack: no Region property
      Region: Match.absent(),
    });
  });

  it('keeps messages SNS cannot deliver in the rule failure queue, which lets that topic write', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: GUARDDUTY_TOPIC,
      RedrivePolicy: { deadLetterTargetArn: queueArn('guardduty-high') },
    });
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'Ruleguarddutyhigh');
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'UndeliverableMessagesFromTopic',
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
            Condition: { ArnEquals: { 'aws:SourceArn': GUARDDUTY_TOPIC } },
          },
        ]),
      },
    });
  });

  it('lets only the subscribed topic invoke the function', () => {
    for (const [ruleId, topic] of [
      ['guardduty-high', GUARDDUTY_TOPIC],
      ['alarm-fired-eu', EU_ALARMS_TOPIC],
    ] as const) {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'sns.amazonaws.com',
        SourceArn: topic,
        FunctionName: fnArn(ruleId),
      });
    }
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'sns.amazonaws.com' }, 2);
  });

  it('subscribes in the topic region when it is not the stack region, without a redrive SNS would refuse', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: EU_ALARMS_TOPIC,
      Protocol: 'lambda',
      Endpoint: fnArn('alarm-fired-eu'),
      Region: 'eu-west-1',
      FilterPolicy: Match.absent(),
      FilterPolicyScope: Match.absent(),
      // SNS keeps dead letters only in a queue of the subscription's (the topic's) region
      RedrivePolicy: Match.absent(),
    });
    Annotations.fromStack(stack).hasInfo(
      '/PatrolCentral/Rule-alarm-fired-eu/Trigger',
      Match.stringLikeRegexp('is in eu-west-1, not the stack.s region'),
    );
  });

  it('decides the redrive at deploy time when the stack region is unknown at synth', () => {
    const agnostic = synthManifest('all-features.json', {}, undefined, { env: {} }).template;
    const conditions = agnostic.toJSON().Conditions as Record<string, unknown>;
    const euCondition = Object.keys(conditions).find((id) => id.startsWith('RulealarmfiredeuTrigger'));
    expect(conditions[euCondition!]).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] });
    agnostic.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: EU_ALARMS_TOPIC,
      Region: 'eu-west-1',
      RedrivePolicy: { 'Fn::If': [euCondition, Match.anyValue(), { Ref: 'AWS::NoValue' }] },
    });
  });
});

describe('webhook trigger', () => {
  it('gives the function a URL without IAM auth (the handler checks the signature)', () => {
    for (const ruleId of ['github-public-repo', 'generic-hook']) {
      template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: fnArn(ruleId) });
    }
    template.resourceCountIs('AWS::Lambda::Url', 2);
  });

  it('outputs each rule URL, naming the rule', () => {
    const outputs = template.findOutputs('*');
    const github = Object.entries(outputs).find(([id]) => id.startsWith('RulegithubpublicrepoTriggerUrl'));
    expect(github?.[1]).toEqual({
      Description: expect.stringMatching(/^Patrol rule github-public-repo: webhook URL to give GitHub/),
      Value: { 'Fn::GetAtt': [logicalId(template, 'AWS::Lambda::Url', 'Rulegithubpublicrepo'), 'FunctionUrl'] },
    });
    expect(Object.keys(outputs)).toHaveLength(2);
  });

  it('tells the handler its failure queue and lets it send there', () => {
    const queueId = logicalId(template, 'AWS::SQS::Queue', 'Rulegithubpublicrepo');
    expect(ruleEnvironment(template, 'github-public-repo')[PATROL_FAILURE_QUEUE_URL]).toEqual({ Ref: queueId });
    expect(ruleStatements(template, 'github-public-repo')).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
      }),
    );
    // event, schedule and sns rules keep the Lambda on-failure destination instead
    for (const ruleId of ['root-console-login', 'stale-access-keys', 'guardduty-high']) {
      expect(ruleEnvironment(template, ruleId)[PATROL_FAILURE_QUEUE_URL], ruleId).toBeUndefined();
    }
  });

  it('keeps async retries and the failure destination for sns and webhook rules', () => {
    for (const ruleId of ['guardduty-high', 'github-public-repo']) {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalId(template, 'AWS::Lambda::Function', `Rule${ruleId.replace(/-/g, '')}Function`) },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: queueArn(ruleId) } },
      });
    }
  });

  it('creates EventBridge rules for event and schedule triggers only', () => {
    template.resourceCountIs('AWS::Events::Rule', 2);
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'events.amazonaws.com' }, 2);
  });
});

describe('secrets', () => {
  it('grants GetSecretValue on exactly the secrets of the rule routes and webhook trigger', () => {
    const secretStatements = (ruleId: string) =>
      ruleStatements(template, ruleId).filter((s) => s.Action === 'secretsmanager:GetSecretValue');
    // names get the random 6-character suffix, ARNs are used as written
    expect(secretStatements('github-public-repo')).toEqual([
      {
        Action: 'secretsmanager:GetSecretValue',
        Effect: 'Allow',
        Resource: [
          secretNameArn('patrol/github-webhook'),
          secretNameArn('patrol/siem-signing'),
          secretNameArn('patrol/slack-sec'),
        ],
      },
    ]);
    expect(secretStatements('guardduty-high')).toEqual([
      {
        Action: 'secretsmanager:GetSecretValue',
        Effect: 'Allow',
        Resource: [PAGERDUTY_SECRET_ARN, secretNameArn('patrol/siem-signing')],
      },
    ]);
    expect(secretStatements('generic-hook')[0]?.Resource).toEqual(GENERIC_HOOK_SECRET_ARN);
    expect(secretStatements('root-console-login')[0]?.Resource).toEqual(secretNameArn('patrol/slack-sec'));
    // a webhook route without a secret, and no secret trigger: nothing to read
    expect(secretStatements('alarm-fired-eu')).toEqual([]);
  });

  it('grants nothing broader on secrets anywhere', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const secretActions = policies.flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Array<{ Action: unknown }>)
        .map((s) => s.Action)
        .filter((a) => JSON.stringify(a).includes('secretsmanager')),
    );
    expect(new Set(secretActions)).toEqual(new Set(['secretsmanager:GetSecretValue']));
    expect(JSON.stringify(policies)).not.toMatch(/secret:[^"]*\*/);
  });
});

describe('PATROL_SINKS', () => {
  it('is the exact JSON of every route kind, in notify order, secrets as written', () => {
    expect(ruleEnvironment(template, 'github-public-repo')[PATROL_SINKS]).toBe(
      '[{"route":"slack-sec","type":"slack","secret":"patrol/slack-sec"},' +
        '{"route":"siem","type":"webhook","url":"https://siem.example.com/patrol","secret":"patrol/siem-signing"}]',
    );
    expect(ruleEnvironment(template, 'guardduty-high')[PATROL_SINKS]).toBe(
      `[{"route":"oncall","type":"pagerduty","secret":"${PAGERDUTY_SECRET_ARN}"},` +
        '{"route":"siem","type":"webhook","url":"https://siem.example.com/patrol","secret":"patrol/siem-signing"}]',
    );
    // no `secret` key at all for a webhook route without one
    expect(ruleEnvironment(template, 'alarm-fired-eu')[PATROL_SINKS]).toBe(
      '[{"route":"audit-log","type":"webhook","url":"https://audit.example.com/ingest"}]',
    );
    const security = logicalId(template, 'AWS::SNS::Topic', 'Routesecurity');
    expect(ruleEnvironment(template, 'root-console-login')[PATROL_SINKS]).toEqual({
      'Fn::Join': [
        '',
        [
          '[{"route":"security","type":"sns","topic_arn":"',
          { Ref: security },
          '"},{"route":"slack-sec","type":"slack","secret":"patrol/slack-sec"}]',
        ],
      ],
    });
  });

  it('creates no AWS resources for slack, pagerduty and webhook routes', () => {
    // the one sns route and the operators: two topics, two keys
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.resourceCountIs('AWS::KMS::Key', 2);
  });
});

describe('dedup', () => {
  it('creates one on-demand, encrypted, recoverable, retained table with pk and a TTL', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('gives rules with dedup the table name and PutItem/UpdateItem/DeleteItem on it, nothing else', () => {
    const table = logicalId(template, 'AWS::DynamoDB::Table', 'Dedup');
    for (const ruleId of ['root-console-login', 'guardduty-high']) {
      expect(ruleEnvironment(template, ruleId)[PATROL_DEDUP_TABLE], ruleId).toEqual({ Ref: table });
      const dynamo = ruleStatements(template, ruleId).filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
      expect(dynamo, ruleId).toEqual([
        { Action: ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [table, 'Arn'] } },
      ]);
    }
    for (const ruleId of ['stale-access-keys', 'alarm-fired-eu', 'github-public-repo', 'generic-hook']) {
      expect(ruleEnvironment(template, ruleId)[PATROL_DEDUP_TABLE], ruleId).toBeUndefined();
      expect(JSON.stringify(ruleStatements(template, ruleId)), ruleId).not.toContain('dynamodb:');
    }
    expect(ruleEnvironment(template, 'root-console-login')[PATROL_RULE_ID]).toBe('root-console-login');
  });

  it('creates no table when no rule uses dedup', () => {
    synthManifest('mixed.json').template.resourceCountIs('AWS::DynamoDB::Table', 0);
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
