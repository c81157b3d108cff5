/**
 * Everything outside the central stack: the member template and its StackSet, the plain
 * forwarder stacks of the management and central accounts, and the forwarding they share.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it, vi } from 'vitest';
import { type ForwarderStacks, PatrolForwarderStack, forwarderStacks } from '../lib/forwarder-stack';
import { Forwarding } from '../lib/forwarding';
import type { Cover, Deploy, Manifest } from '../lib/manifest';
import { MEMBER_TEMPLATE_FILE, MemberStack, TEMPLATE_BODY_LIMIT_BYTES, memberTemplateBody } from '../lib/member-stack';
import { acknowledgeNagFindings } from '../lib/nag-acknowledgements';
import { CONTEXT_STACKSET_CALL_AS, PatrolOrganizationStack } from '../lib/organization-stack';
import { REPO_ROOT } from '../lib/paths';

const FIXTURE = path.join(__dirname, 'fixtures', 'org.json');
const CENTRAL = '210987654321';
const MANAGEMENT = '345678901234';

const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

function org(): Manifest {
  return JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Manifest;
}

function withDeploy(manifest: Manifest, change: (deploy: Deploy) => Deploy | undefined): Manifest {
  const deploy = change(manifest.deploy!);
  const { deploy: _old, ...rest } = manifest;
  return deploy === undefined ? rest : { ...rest, deploy };
}

function withCovers(manifest: Manifest, forwarding: readonly Cover[]): Manifest {
  return { ...manifest, covers: { ...manifest.covers, forwarding } };
}

/** An app like the main one: cdk.json's feature flags and the cdk-nag plugin. */
function newApp(context: Record<string, unknown> = {}): App {
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return app;
}

type Resources = Record<string, { Type: string; Properties: Record<string, any>; Condition?: string }>;

function resourcesOf(template: { Resources: Resources }, type: string): [string, Resources[string]][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** Rule name → logical id. */
function ruleIds(template: { Resources: Resources }): Record<string, string> {
  return Object.fromEntries(resourcesOf(template, 'AWS::Events::Rule').map(([id, r]) => [r.Properties.Name, id]));
}

function busArn(account = CENTRAL, region = 'eu-west-1'): unknown {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:events:${region}:${account}:event-bus/patrol-central`]] };
}

function nagFindings(scope: App | Stack): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
}

describe('member template', () => {
  const manifest = org();
  const body = memberTemplateBody(manifest);
  const template = JSON.parse(body) as { Resources: Resources; [key: string]: unknown };
  const [[roleId, role]] = resourcesOf(template, 'AWS::IAM::Role') as [[string, Resources[string]]];
  const [[queueId, queue]] = resourcesOf(template, 'AWS::SQS::Queue') as [[string, Resources[string]]];
  const byName = Object.fromEntries(resourcesOf(template, 'AWS::Events::Rule').map(([, r]) => [r.Properties.Name, r]));
  const roleArn = {
    'Fn::If': [
      'IsUsEast1',
      { 'Fn::GetAtt': [roleId, 'Arn'] },
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':role/patrol-forwarder']] },
    ],
  };

  it('is compact JSON under the TemplateBody limit, with no bootstrap, metadata or assets', () => {
    expect(Buffer.byteLength(body)).toBeLessThan(TEMPLATE_BODY_LIMIT_BYTES);
    expect(body).toBe(JSON.stringify(template));
    expect(Object.keys(template).sort()).toEqual(['Conditions', 'Description', 'Resources']);
    for (const resource of Object.values(template.Resources)) {
      expect(resource).not.toHaveProperty('Metadata');
    }
    expect(new Set(Object.values(template.Resources).map((r) => r.Type))).toEqual(
      new Set(['AWS::IAM::Role', 'AWS::SQS::Queue', 'AWS::SQS::QueuePolicy', 'AWS::Events::Rule']),
    );
  });

  it('creates the forwarder role in us-east-1 only, for EventBridge of this account, to put events on the central bus', () => {
    expect(template.Conditions).toEqual({ IsUsEast1: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] } });
    expect(role.Condition).toBe('IsUsEast1');
    expect(role.Properties.RoleName).toBe('patrol-forwarder');
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    expect(role.Properties.Policies).toHaveLength(1);
    expect(role.Properties.Policies[0].PolicyDocument.Statement).toEqual([
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: busArn() },
    ]);
    expect(role.Properties).not.toHaveProperty('ManagedPolicyArns');
    // Nothing else is conditional: every region forwards.
    expect(Object.values(template.Resources).filter((r) => r.Condition !== undefined)).toHaveLength(1);
  });

  it('forwards each cover verbatim to the central bus, with the role and a dead-letter queue', () => {
    expect(Object.keys(byName).sort()).toEqual([
      'patrol-forward-cloudtrail-api',
      'patrol-forward-secretsmanager-read-only',
      'patrol-forward-signin',
      'patrol-heartbeat',
    ]);
    for (const cover of manifest.covers.forwarding) {
      const rule = byName[`patrol-forward-${cover.id}`]!;
      expect(rule.Properties.EventPattern).toEqual(cover.pattern);
      expect(rule.Properties).not.toHaveProperty('EventBusName');
      expect(rule.Properties.State).toBe(
        cover.include_read_only ? 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' : 'ENABLED',
      );
      expect(rule.Properties.Targets).toEqual([
        {
          Id: 'patrol-central',
          Arn: busArn(),
          RoleArn: roleArn,
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
        },
      ]);
    }
    expect(byName['patrol-forward-secretsmanager-read-only']!.Properties.State).toBe(
      'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
    );
  });

  it('keeps refused events in an encrypted, TLS-only queue that only the forward rules may write to', () => {
    expect(queue.Properties).toEqual({
      QueueName: 'patrol-forward-dead-letters',
      MessageRetentionPeriod: 14 * 24 * 3600,
      SqsManagedSseEnabled: true,
    });
    const [[, policy]] = resourcesOf(template, 'AWS::SQS::QueuePolicy') as [[string, Resources[string]]];
    const statements = policy.Properties.PolicyDocument.Statement as Record<string, any>[];
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    const ids = ruleIds(template);
    expect(statements).toContainEqual({
      Sid: 'ForwardRulesDeadLetters',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
      Condition: {
        ArnEquals: {
          'aws:SourceArn': manifest.covers.forwarding.map((c) => ({
            'Fn::GetAtt': [ids[`patrol-forward-${c.id}`], 'Arn'],
          })),
        },
      },
    });
  });

  it('sends a heartbeat to the central bus every 5 minutes', () => {
    const heartbeat = byName['patrol-heartbeat']!;
    expect(heartbeat.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(heartbeat.Properties.State).toBe('ENABLED');
    expect(heartbeat.Properties).not.toHaveProperty('EventPattern');
    expect(heartbeat.Properties.Targets).toEqual([
      {
        Id: 'patrol-central',
        Arn: busArn(),
        RoleArn: roleArn,
        RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 185 },
      },
    ]);
  });

  it('is written for cfn-lint when asked, byte for byte what the StackSet gets', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patrol-member-test-'));
    try {
      expect(memberTemplateBody(manifest, { outdir: dir })).toBe(body);
      expect(fs.readFileSync(path.join(dir, MEMBER_TEMPLATE_FILE), 'utf8')).toBe(body);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on a quota breach of the member template, naming the rules involved', () => {
    // The member template stays under the 1 MB CloudFormation reads from S3 whenever it
    // keeps EventBridge's quotas (300 rules of at most 2,048 characters), so those decide.
    const covers: Cover[] = Array.from({ length: 301 }, (_, i) => ({
      id: `source-${i}`,
      pattern: { source: [`aws.service${i}`] },
      include_read_only: false,
      rules: [`rule-${i}`],
    }));
    expect(() => memberTemplateBody(withCovers(manifest, covers))).toThrow(
      /failed its checks: (.|\n)*30[12] EventBridge rules on bus default in stack PatrolMember; EventBridge allows 300 per bus/,
    );
  });

  it('needs [deploy]', () => {
    expect(() => memberTemplateBody(withDeploy(manifest, () => undefined))).toThrow(/org\.toml: .*needs .*\[deploy\]/);
  });

  it('has no unacknowledged cdk-nag findings', () => {
    const app = newApp();
    new MemberStack(app, 'Member', { covers: manifest.covers.forwarding, centralBusArn: 'arn:aws:events:eu-west-1:210987654321:event-bus/patrol-central' });
    expect(nagFindings(app)).toEqual([]);
  });

  it('fails on a cdk-nag finding nobody acknowledged', async () => {
    vi.resetModules();
    vi.doMock('../lib/nag-acknowledgements', async (original) => ({
      ...(await original<typeof import('../lib/nag-acknowledgements')>()),
      acknowledgeNagFindings: () => undefined,
    }));
    try {
      const unacknowledged = await import('../lib/member-stack.js');
      expect(() => unacknowledged.memberTemplateBody(manifest)).toThrow(
        /member template \(StackSet patrol-member\) failed its checks: [^]*AwsSolutions-SQS3/,
      );
    } finally {
      vi.doUnmock('../lib/nag-acknowledgements');
      vi.resetModules();
    }
  });
});

describe('organization stack', () => {
  function orgStack(manifest: Manifest, context: Record<string, unknown> = {}, props: { callAs?: 'SELF' | 'DELEGATED_ADMIN' } = {}) {
    const app = newApp(context);
    const stack = new PatrolOrganizationStack(app, 'PatrolOrganization', {
      manifest,
      env: { account: MANAGEMENT, region: 'eu-west-1' },
      ...props,
    });
    return { app, stack, template: Template.fromStack(stack) };
  }

  it('deploys the member template to the target OUs with a service-managed, auto-deploying StackSet', () => {
    const manifest = org();
    const { stack, template } = orgStack(manifest);
    expect(stack.stackName).toBe('patrol-organization');
    template.resourceCountIs('AWS::CloudFormation::StackSet', 1);
    template.hasResourceProperties('AWS::CloudFormation::StackSet', {
      StackSetName: 'patrol-member',
      PermissionModel: 'SERVICE_MANAGED',
      CallAs: 'SELF',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      ManagedExecution: { Active: true },
      OperationPreferences: {
        RegionConcurrencyType: 'SEQUENTIAL',
        RegionOrder: ['us-east-1', 'eu-west-1', 'eu-central-1'],
        MaxConcurrentPercentage: 25,
        FailureTolerancePercentage: 10,
        ConcurrencyMode: 'SOFT_FAILURE_TOLERANCE',
      },
      StackInstancesGroup: [
        {
          DeploymentTargets: {
            OrganizationalUnitIds: ['ou-ab12-cdef3456'],
            AccountFilterType: 'DIFFERENCE',
            Accounts: [CENTRAL],
          },
          Regions: ['us-east-1', 'eu-west-1', 'eu-central-1'],
        },
      ],
    });
    const [stackSet] = Object.values(template.findResources('AWS::CloudFormation::StackSet'));
    const body = stackSet!.Properties.TemplateBody as string;
    expect(Buffer.byteLength(body)).toBeLessThan(TEMPLATE_BODY_LIMIT_BYTES);
    expect(body).toBe(stack.templateBody);
    expect(JSON.parse(body)).toEqual(JSON.parse(memberTemplateBody(manifest)));
  });

  it('puts us-east-1 first, where the role is created', () => {
    const manifest = withDeploy(org(), (d) => ({ ...d, regions: ['eu-west-1', 'eu-central-1', 'us-east-1'] }));
    orgStack(manifest).template.hasResourceProperties('AWS::CloudFormation::StackSet', {
      OperationPreferences: { RegionOrder: ['us-east-1', 'eu-west-1', 'eu-central-1'] },
      StackInstancesGroup: [{ Regions: ['us-east-1', 'eu-west-1', 'eu-central-1'] }],
    });
  });

  it('filters no account when the central account is the management account', () => {
    const manifest = withDeploy(org(), (d) => ({ ...d, organization: { ...d.organization!, management_account: CENTRAL } }));
    const { template } = orgStack(manifest);
    const [stackSet] = Object.values(template.findResources('AWS::CloudFormation::StackSet'));
    expect(stackSet!.Properties.StackInstancesGroup[0].DeploymentTargets).toEqual({
      OrganizationalUnitIds: ['ou-ab12-cdef3456'],
    });
  });

  it('acts as a delegated administrator when told so', () => {
    const props = orgStack(org(), {}, { callAs: 'DELEGATED_ADMIN' });
    props.template.hasResourceProperties('AWS::CloudFormation::StackSet', { CallAs: 'DELEGATED_ADMIN' });
    const context = orgStack(org(), { [CONTEXT_STACKSET_CALL_AS]: 'DELEGATED_ADMIN' });
    context.template.hasResourceProperties('AWS::CloudFormation::StackSet', { CallAs: 'DELEGATED_ADMIN' });
    expect(() => orgStack(org(), { [CONTEXT_STACKSET_CALL_AS]: 'ADMIN' })).toThrow(
      /patrol:stackSetCallAs="ADMIN" is not supported; use one of: SELF, DELEGATED_ADMIN/,
    );
  });

  it('needs [deploy.organization]', () => {
    const single = withDeploy(org(), ({ organization: _o, ...d }) => d);
    expect(() => orgStack(single)).toThrow(/org\.toml: the organization stack needs \[deploy\.organization\]/);
  });

  it('has no unacknowledged cdk-nag findings', () => {
    const { app } = orgStack(org());
    expect(nagFindings(app)).toEqual([]);
  });
});

describe('forwarder stacks', () => {
  function build(manifest: Manifest): { app: App; stacks: ForwarderStacks } {
    const app = newApp();
    return { app, stacks: forwarderStacks(app, manifest) };
  }
  const ids = (stacks: readonly PatrolForwarderStack[]) => stacks.map((s) => s.node.id);

  it('forward from the management account in every region and from the central account outside its region', () => {
    const { stacks } = build(org());
    expect(ids(stacks.central)).toEqual(['PatrolCentral-Forwarder-us-east-1', 'PatrolCentral-Forwarder-eu-central-1']);
    expect(ids(stacks.management)).toEqual([
      'PatrolOrganization-Forwarder-us-east-1',
      'PatrolOrganization-Forwarder-eu-west-1',
      'PatrolOrganization-Forwarder-eu-central-1',
    ]);
    for (const stack of [...stacks.central, ...stacks.management]) {
      expect(stack.stackName).toBe('patrol-forwarder');
      expect(stack.account).toBe(stack.node.id.startsWith('PatrolCentral') ? CENTRAL : MANAGEMENT);
      expect(stack.region).toBe(stack.node.id.replace(/^Patrol\w+-Forwarder-/, ''));
    }
  });

  it('create the role in us-east-1 only; the other regions name it and deploy after it', () => {
    const { stacks } = build(org());
    for (const account of [stacks.central, stacks.management]) {
      const [first, ...others] = account;
      const roles = Template.fromStack(first!).findResources('AWS::IAM::Role');
      expect(Object.values(roles).map((r) => r.Properties.RoleName)).toEqual(['patrol-forwarder']);
      expect(first!.dependencies).toEqual([]);
      for (const stack of others) {
        const template = Template.fromStack(stack);
        template.resourceCountIs('AWS::IAM::Role', 0);
        expect(stack.dependencies).toEqual([first]);
        const rules = Object.values(template.findResources('AWS::Events::Rule'));
        expect(rules).toHaveLength(4);
        for (const rule of rules) {
          expect(rule.Properties.Targets[0].Arn).toEqual(busArn());
          expect(rule.Properties.Targets[0].RoleArn).toBe(`arn:aws:iam::${stack.account}:role/patrol-forwarder`);
        }
      }
    }
  });

  it('forward every cover verbatim, with the heartbeat, in each stack', () => {
    const manifest = org();
    const { stacks } = build(manifest);
    for (const stack of [...stacks.central, ...stacks.management]) {
      const template = Template.fromStack(stack).toJSON() as { Resources: Resources };
      const byName = Object.fromEntries(resourcesOf(template, 'AWS::Events::Rule').map(([, r]) => [r.Properties.Name, r]));
      for (const cover of manifest.covers.forwarding) {
        expect(byName[`patrol-forward-${cover.id}`]!.Properties.EventPattern).toEqual(cover.pattern);
      }
      expect(byName['patrol-heartbeat']!.Properties.ScheduleExpression).toBe('rate(5 minutes)');
      expect(resourcesOf(template, 'AWS::SQS::Queue')).toHaveLength(1);
    }
  });

  it('keep only the role in the central account\'s us-east-1 when that is the central region', () => {
    const manifest = withDeploy(org(), (d) => ({ ...d, central: { ...d.central, region: 'us-east-1' } }));
    const { stacks } = build(manifest);
    expect(ids(stacks.central)).toEqual([
      'PatrolCentral-Forwarder-us-east-1',
      'PatrolCentral-Forwarder-eu-west-1',
      'PatrolCentral-Forwarder-eu-central-1',
    ]);
    const [roleOnly, ...others] = stacks.central;
    const template = Template.fromStack(roleOnly!);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.resourceCountIs('AWS::SQS::Queue', 0);
    expect(roleOnly!.forwarding).toBeUndefined();
    for (const stack of others) {
      expect(stack.dependencies).toEqual([roleOnly]);
      Template.fromStack(stack).resourceCountIs('AWS::Events::Rule', 4);
    }
  });

  it('are not created twice when the central account is the management account', () => {
    const manifest = withDeploy(org(), (d) => ({ ...d, organization: { ...d.organization!, management_account: CENTRAL } }));
    const { stacks } = build(manifest);
    expect(ids(stacks.central)).toEqual(['PatrolCentral-Forwarder-us-east-1', 'PatrolCentral-Forwarder-eu-central-1']);
    expect(stacks.management).toEqual([]);
  });

  it('cover the central account alone without an organization, and nothing without [deploy]', () => {
    const single = build(withDeploy(org(), ({ organization: _o, ...d }) => d)).stacks;
    expect(ids(single.central)).toEqual(['PatrolCentral-Forwarder-us-east-1', 'PatrolCentral-Forwarder-eu-central-1']);
    expect(single.management).toEqual([]);
    const oneRegion = build(withDeploy(org(), (d) => ({ ...d, central: { ...d.central, region: 'us-east-1' }, regions: ['us-east-1'] })));
    expect(oneRegion.stacks.central).toEqual([]);
    expect(build(withDeploy(org(), () => undefined)).stacks).toEqual({ central: [], management: [] });
  });

  it('have no unacknowledged cdk-nag findings and synthesize with the checks on', () => {
    const { app, stacks } = build(org());
    expect(nagFindings(app)).toEqual([]);
    for (const stack of [...stacks.central, ...stacks.management]) {
      expect(() => Template.fromStack(stack)).not.toThrow();
    }
  });
});

describe('forwarding in the central account and region', () => {
  it('needs no role, and the heartbeat can be left out', () => {
    const app = newApp();
    const stack = new Stack(app, 'S', { env: { account: CENTRAL, region: 'eu-west-1' } });
    new Forwarding(stack, 'Forwarding', {
      covers: org().covers.forwarding,
      centralBusArn: 'arn:aws:events:eu-west-1:210987654321:event-bus/patrol-central',
      heartbeat: false,
    });
    // The central stack acknowledges its findings like this; the queue's acknowledgement applies anywhere.
    acknowledgeNagFindings(stack);
    const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule'));
    expect(rules.map((r) => r.Properties.Name).sort()).toEqual([
      'patrol-forward-cloudtrail-api',
      'patrol-forward-secretsmanager-read-only',
      'patrol-forward-signin',
    ]);
    for (const rule of rules) {
      expect(rule.Properties.Targets[0]).not.toHaveProperty('RoleArn');
      expect(rule.Properties.Targets[0]).toHaveProperty('DeadLetterConfig');
    }
    expect(nagFindings(app)).toEqual([]);
  });
});

describe('logical ids', () => {
  const cover = (id: string): Cover => ({ id, pattern: { source: [`aws.${id}`] }, include_read_only: false, rules: [id] });

  function forwardingIds(covers: readonly Cover[]): Record<string, string> {
    const app = new App({ context: cdkJson.context });
    const stack = new Stack(app, 'S', { env: { account: MANAGEMENT, region: 'eu-west-1' } });
    new Forwarding(stack, 'Forwarding', { covers, centralBusArn: 'arn:aws:events:eu-west-1:210987654321:event-bus/patrol-central' });
    const template = Template.fromStack(stack).toJSON() as { Resources: Resources };
    return Object.fromEntries(Object.entries(template.Resources).map(([id, r]) => [r.Properties.Name ?? r.Type, id]));
  }

  it('of a cover do not change when another cover is added, removed or reordered', () => {
    const before = forwardingIds([cover('iam'), cover('signin'), cover('s3')]);
    const changes = [
      forwardingIds([cover('s3'), cover('iam'), cover('signin')]),
      forwardingIds([cover('iam'), cover('s3')]),
      forwardingIds([cover('ec2'), cover('iam'), cover('signin'), cover('s3')]),
    ];
    for (const after of changes) {
      for (const [name, id] of Object.entries(after)) {
        if (name in before) {
          expect(id, name).toBe(before[name]);
        }
      }
    }
    expect(Object.keys(changes[1]!)).not.toContain('patrol-forward-signin');
    expect(Object.keys(changes[2]!)).toContain('patrol-forward-ec2');
  });

  it('of the member template do not change when covers are reordered or one is removed', () => {
    const manifest = org();
    const covers = manifest.covers.forwarding;
    const ids = (c: readonly Cover[]) => {
      const t = JSON.parse(memberTemplateBody(withCovers(manifest, c))) as { Resources: Resources };
      return Object.fromEntries(Object.entries(t.Resources).map(([id, r]) => [r.Properties.Name ?? r.Type, id]));
    };
    const before = ids(covers);
    const after = ids([covers[2]!, covers[0]!]);
    expect(Object.keys(after)).not.toContain('patrol-forward-cloudtrail-api');
    for (const [name, id] of Object.entries(after)) {
      expect(id, name).toBe(before[name]);
    }
  });
});
