/**
 * Least privilege for handlers: each function role gets exactly the statements its
 * handler.toml declares, one policy each, whose cdk-nag acknowledgements name exactly their
 * own wildcard resources with the declaration's `why`; and the read-only `patrol-audit` role
 * exists in every account (central stack, management account's us-east-1 forwarder stack,
 * member template in us-east-1) when, and only when, a rule uses an audit handler.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { auditHandlers } from '../lib/audit-role';
import { declaredAcknowledgements, nagResourceName } from '../lib/declared-permissions';
import type { HandlerConfig } from '../lib/handler-config';
import type { Manifest, Rule } from '../lib/manifest';
import { memberTemplateBody, ROLE_REGION_CONDITION } from '../lib/member-stack';
import { AUDIT_ROLE } from '../lib/names';
import { buildManifestApp, readFixture, synthManifest, writeTempManifest } from './app-under-test';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; Condition?: string }>;
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const allFeatures = readFixture('all-features.json');
const audit = allFeatures.handlers.audit!;

/** The acknowledgements recorded on one construct: finding id → reason. */
function acknowledgedOn(c: IConstruct): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of c.node.metadata) {
    if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        out[id.replace(/^Annotation::/, '')] = reason;
      }
    }
  }
  return out;
}

/** Every (action, resource) pair a list of policy statements grants. */
function grants(statements: readonly Statement[]): string[] {
  const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : [x]);
  return statements
    .flatMap((s) => list(s.Action).flatMap((a) => list(s.Resource).map((r) => `${String(a)} on ${JSON.stringify(r)}`)))
    .sort();
}

/** The same pairs, from the declaration. */
function declaredGrants(statements: Manifest['handlers'][string]['audit_permissions']): string[] {
  return statements
    .flatMap((s) =>
      s.actions.flatMap((a) => s.resources.map((r) => `${a} on ${JSON.stringify(r.includes('${') ? { 'Fn::Sub': r } : r)}`)),
    )
    .sort();
}

/** org.json plus one scheduled rule of the audit handler (and its declaration). */
function orgWithAudit(): Manifest {
  const org = readFixture('org.json');
  const rule: Rule = {
    id: 'access-keys-unused',
    description: 'IAM access keys unused for too long',
    severity: 'medium',
    handler: 'audit',
    trigger: { type: 'schedule', expression: 'rate(1 day)' },
    message: '{{ detail.finding }}',
    notify: ['security'],
    params: { check: 'access-keys', max_age_days: 90, max_unused_days: 90 },
  };
  return { ...org, rules: [...org.rules, rule], handlers: { ...org.handlers, audit } };
}

describe('a handler function role', () => {
  const { stack, template } = synthManifest('all-features.json');
  const fn = stack.functions.get('audit')!;
  const policies = template.findResources('AWS::IAM::Policy');
  const declared = Object.entries(policies).filter(([id]) => id.startsWith('HandlerauditDeclared'));

  it('gets exactly its declared statements, one policy each, placeholders substituted', () => {
    expect(declared).toHaveLength(audit.permissions.length);
    const statements = declared.map(([, p]) => {
      const doc = (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument;
      expect(doc.Statement).toHaveLength(1);
      return doc.Statement[0];
    });
    expect(statements).toContainEqual({ Action: 'organizations:ListAccounts', Effect: 'Allow', Resource: '*' });
    expect(statements).toContainEqual({
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/patrol-audit' },
    });
    for (const [, p] of declared) {
      expect((p.Properties as { Roles: unknown[] }).Roles).toEqual([{ Ref: stack.getLogicalId(fn.role.node.defaultChild as iam.CfnRole) }]);
    }
  });

  it("runs audits for up to 15 minutes, and tells the function its timeout", () => {
    const props = (f: { node: { defaultChild?: unknown } }) =>
      template.toJSON().Resources[stack.getLogicalId(f.node.defaultChild as iam.CfnRole)].Properties as {
        Timeout: number;
        Environment: { Variables: Record<string, string> };
      };
    const auditFn = props(fn.function);
    expect(auditFn.Timeout).toBe(900);
    expect(auditFn.Environment.Variables.PATROL_FUNCTION_TIMEOUT_SECONDS).toBe('900');
    const notifyFn = props(stack.functions.get('notify')!.function);
    expect(notifyFn.Timeout).toBe(60);
  });

  it('grants no declared statement to another handler', () => {
    const notify = stack.functions.get('notify')!;
    expect(notify.declaredPolicies).toBeUndefined();
    const notifyPolicies = JSON.stringify(Object.entries(policies).filter(([id]) => id.startsWith('Handlernotify')));
    expect(notifyPolicies).not.toContain('organizations:ListAccounts');
    expect(notifyPolicies).not.toContain('sts:AssumeRole');
  });

  it('acknowledges exactly each statement\'s wildcard resources, with the declared why', () => {
    const acks = fn.declaredPolicies!.policies.map((p) => acknowledgedOn(p.node.defaultChild as IConstruct));
    const listAccounts = audit.permissions.find((s) => s.actions.includes('organizations:ListAccounts'))!;
    expect(acks).toContainEqual({
      'AwsSolutions-IAM5[Resource::*]': `Declared in lambdas/audit/handler.toml: ${listAccounts.why!}.`,
    });
    const assume = acks.find((a) => Object.keys(a).some((k) => k.includes('role/patrol-audit')));
    expect(Object.keys(assume!)).toEqual(['AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/patrol-audit]']);
    // Nothing is acknowledged on the function, its role or the role's default policy.
    for (const c of [fn, fn.role, fn.role.node.tryFindChild('DefaultPolicy')!]) {
      expect(Object.keys(acknowledgedOn(c)).filter((k) => k.startsWith('AwsSolutions-IAM5[Resource'))).toEqual([]);
    }
  });

  it('fails cdk-nag on a second `*` statement nobody declared', () => {
    const { app, patrol } = buildManifestApp('all-features.json');
    const role = patrol.central.functions.get('audit')!.role;
    role.addToPolicy(new iam.PolicyStatement({ actions: ['iam:ListUsers'], resources: ['*'] }));
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const iam5 = report.violations.filter((v) => v.ruleName.startsWith('AwsSolutions-IAM5'));
    expect(iam5.flatMap((v) => v.violatingResources.map((r) => r.constructPath))).toEqual([
      expect.stringContaining('Handler-audit/Role/DefaultPolicy'),
    ]);
  });

  it('fails cdk-nag on an undeclared policy next to the declared ones', () => {
    const { app, patrol } = buildManifestApp('all-features.json');
    const fn = patrol.central.functions.get('audit')!;
    new iam.Policy(fn.declaredPolicies!, 'Sneaky', {
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] })],
      roles: [fn.role],
    });
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const iam5 = report.violations.filter((v) => v.ruleName.startsWith('AwsSolutions-IAM5'));
    expect(iam5.flatMap((v) => v.violatingResources.map((r) => r.constructPath))).toEqual([expect.stringContaining('Declared/Sneaky')]);
  });

  it('writes the [deploy] regions, in order, into every handler config', () => {
    const config = JSON.parse(fs.readFileSync(path.join(fn.configDir, 'patrol', 'config.json'), 'utf8')) as HandlerConfig;
    expect(config.regions).toEqual([]);
    expect(config.rules.map((r) => r.id)).toEqual(['access-keys-unused']);
    const org = synthManifest(writeTempManifest(orgWithAudit()));
    for (const h of ['audit', 'notify']) {
      const dir = org.stack.functions.get(h)!.configDir;
      const c = JSON.parse(fs.readFileSync(path.join(dir, 'patrol', 'config.json'), 'utf8')) as HandlerConfig;
      expect(c.regions).toEqual(['us-east-1', 'eu-west-1', 'eu-central-1']);
    }
  });
});

describe('declared acknowledgements', () => {
  it('name each wildcard resource once, flattened as cdk-nag names it', () => {
    expect(nagResourceName('arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*')).toBe(
      'arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/*',
    );
    const acks = declaredAcknowledgements(audit.audit_permissions, 'lambdas/audit/handler.toml');
    const stars = audit.audit_permissions.filter((s) => s.resources.includes('*'));
    const star = acks.find((a) => a.id === 'AwsSolutions-IAM5[Resource::*]')!;
    for (const s of stars) {
      expect(star.reason).toContain(s.why!);
    }
    expect(acks.map((a) => a.id)).toEqual([
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:guardduty:*:<AWS::AccountId>:detector/*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::*]',
    ]);
    // A statement without a wildcard needs none.
    expect(declaredAcknowledgements([{ actions: ['iam:GetUser'], resources: ['arn:aws:iam::111111111111:user/x'] }], 'x')).toEqual([]);
  });
});

describe('the patrol-audit role', () => {
  const principalArn = (account: string, region: string): unknown => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${account}:role/patrol-audit-${region}`]],
  });

  function auditRoles(resources: Resources): Array<[string, Resources[string]]> {
    return Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === AUDIT_ROLE);
  }

  function inlineStatements(role: Resources[string]): Statement[] {
    const policies = role.Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>;
    return policies.flatMap((p) => p.PolicyDocument.Statement);
  }

  it('in the central account: the union of audit_permissions, trusting only the audit function role', () => {
    const { stack, template } = synthManifest('all-features.json');
    const roles = auditRoles(template.toJSON().Resources as Resources);
    expect(roles).toHaveLength(1);
    const [, role] = roles[0]!;
    // Exactly the declared grants (CDK may merge statements that share their resources).
    expect(grants(inlineStatements(role))).toEqual(declaredGrants(audit.audit_permissions));
    expect(grants(inlineStatements(role))).toContain(
      `cloudtrail:GetTrailStatus on ${JSON.stringify({ 'Fn::Sub': 'arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*' })}`,
    );
    const actions = inlineStatements(role).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.every((a) => /^[a-z0-9-]+:(Get|List|Describe|GenerateCredentialReport)/.test(a)), actions.join()).toBe(true);
    const trust = role.Properties.AssumeRolePolicyDocument as { Statement: Array<Record<string, unknown>> };
    expect(trust.Statement).toHaveLength(1);
    expect(trust.Statement[0]).toMatchObject({
      Action: 'sts:AssumeRole',
      Principal: { AWS: { 'Fn::Join': ['', [expect.stringMatching(/^arn:/), { Ref: 'AWS::AccountId' }, ':root']] } },
      Condition: { ArnEquals: { 'aws:PrincipalArn': [expect.anything()] } },
    });
    // The audit function's role, by the name HandlerFunction gives it (single account: no org).
    expect(JSON.stringify(trust)).toContain(':role/patrol-audit-us-east-1');
    expect(JSON.stringify(trust)).not.toContain('PrincipalOrgID');
    expect(Object.keys(acknowledgedOn(stack.auditRole!.cfnRole)).sort()).toEqual(
      declaredAcknowledgements(audit.audit_permissions, '').map((a) => a.id).sort(),
    );
  });

  it('exists nowhere when no rule uses an audit handler', () => {
    const { patrol, template } = synthManifest('org.json');
    expect(auditRoles(template.toJSON().Resources as Resources)).toEqual([]);
    for (const s of [...patrol.forwarders.central, ...patrol.forwarders.management]) {
      expect(auditRoles(Template.fromStack(s).toJSON().Resources as Resources)).toEqual([]);
    }
    const member = JSON.parse(memberTemplateBody(readFixture('org.json'))) as { Resources: Resources };
    expect(auditRoles(member.Resources)).toEqual([]);
    expect(auditHandlers(readFixture('org.json'))).toEqual([]);
  });

  it('in the member template: us-east-1 only, trusting the central audit role by ARN within the organization', () => {
    const manifest = orgWithAudit();
    const member = JSON.parse(memberTemplateBody(manifest)) as { Resources: Resources };
    const roles = auditRoles(member.Resources);
    expect(roles).toHaveLength(1);
    const [, role] = roles[0]!;
    expect(role.Condition).toBe(ROLE_REGION_CONDITION);
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::210987654321:root']] } },
          Condition: {
            ArnEquals: { 'aws:PrincipalArn': [principalArn('210987654321', 'eu-west-1')] },
            StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' },
          },
        },
      ],
    });
    expect(grants(inlineStatements(role))).toEqual(declaredGrants(audit.audit_permissions));
  });

  it('in the management account: its us-east-1 forwarder stack; in the central account: the central stack only', () => {
    const { patrol, template } = synthManifest(writeTempManifest(orgWithAudit()));
    expect(auditRoles(template.toJSON().Resources as Resources)).toHaveLength(1);
    const management = patrol.forwarders.management.map((s) => [s.region, auditRoles(Template.fromStack(s).toJSON().Resources as Resources).length]);
    expect(management).toEqual([
      ['us-east-1', 1],
      ['eu-west-1', 0],
      ['eu-central-1', 0],
    ]);
    for (const s of patrol.forwarders.central) {
      expect(auditRoles(Template.fromStack(s).toJSON().Resources as Resources), s.stackName).toEqual([]);
    }
  });

  it('keeps cdk-nag clean everywhere it is created', () => {
    const { app } = synthManifest(writeTempManifest(orgWithAudit()));
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});
