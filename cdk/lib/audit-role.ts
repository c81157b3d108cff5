/**
 * `patrol-audit`: the read-only role audit handlers step into in every account (the central
 * account, the management account and every member). It holds the union of the audit
 * handlers' declared `audit_permissions` and trusts nothing but the central account's audit
 * handler function roles.
 */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct, IConstruct } from 'constructs';
import { acknowledge, declaredAcknowledgements, policyStatement } from './declared-permissions';
import type { HandlerDeclaration, Manifest, PermissionStatement } from './manifest';
import { AUDIT_ROLE, handlerRoleName } from './names';

/** The audit handlers a rule uses, sorted, with their declarations. */
export function auditHandlers(manifest: Manifest): [string, HandlerDeclaration][] {
  const used = new Set(manifest.rules.map((r) => r.handler));
  return Object.entries(manifest.handlers ?? {})
    .filter(([name, d]) => d.kind === 'audit' && used.has(name))
    .sort(([a], [b]) => a.localeCompare(b));
}

/** Whether some rule uses an audit handler (and so every account needs the role). */
export function needsAuditRole(manifest: Manifest): boolean {
  return auditHandlers(manifest).length > 0;
}

/** The deterministic ARN of the audit role in the current account. */
export function auditRoleArn(): string {
  return `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${AUDIT_ROLE}`;
}

export interface AuditRoleProps {
  /** The central account, where the audit handlers run. */
  readonly centralAccount: string;
  /** The central region: the audit handlers' role names end with it. */
  readonly centralRegion: string;
  /** The audit handlers and their declarations ([`auditHandlers`]). */
  readonly handlers: readonly (readonly [string, HandlerDeclaration])[];
  /**
   * Callers must also belong to this organization (`aws:PrincipalOrgID`).
   *
   * @default - no organization (a single account)
   */
  readonly organizationId?: string;
}

/** The function role ARNs of the audit handlers in the central account. */
export function auditPrincipalArns(props: AuditRoleProps): string[] {
  return props.handlers.map(
    ([handler]) => `arn:${Aws.PARTITION}:iam::${props.centralAccount}:role/${handlerRoleName(handler, props.centralRegion)}`,
  );
}

/** The union of the audit handlers' `audit_permissions`, duplicates dropped. */
export function auditStatements(handlers: readonly (readonly [string, HandlerDeclaration])[]): PermissionStatement[] {
  const seen = new Set<string>();
  const out: PermissionStatement[] = [];
  for (const [, d] of handlers) {
    for (const s of d.audit_permissions) {
      const key = JSON.stringify(s);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(s);
      }
    }
  }
  return out;
}

/**
 * The role. Its trust names the central account as principal and admits only the audit
 * handlers' function roles by ARN (`aws:PrincipalArn`; with an organization, also
 * `aws:PrincipalOrgID`). A role ARN as the principal itself would have IAM check that the
 * role exists when this account's stack is created, which in a member account may come
 * before the central stack; the condition has the same effect without the ordering. The
 * policy is inline so the role is one resource, which the member template can create
 * conditionally (us-east-1 only), and its cdk-nag acknowledgements sit on that resource only.
 */
export class AuditRole extends iam.Role {
  public readonly statements: readonly PermissionStatement[];

  constructor(scope: Construct, id: string, props: AuditRoleProps) {
    const statements = auditStatements(props.handlers);
    const conditions: Record<string, Record<string, unknown>> = {
      ArnEquals: { 'aws:PrincipalArn': auditPrincipalArns(props) },
    };
    if (props.organizationId !== undefined) {
      conditions.StringEquals = { 'aws:PrincipalOrgID': props.organizationId };
    }
    super(scope, id, {
      roleName: AUDIT_ROLE,
      description: `Patrol: read-only audits by ${props.handlers.map(([h]) => h).join(', ')} from the central account`,
      assumedBy: new iam.AccountPrincipal(props.centralAccount).withConditions(conditions),
      inlinePolicies: {
        'declared-audit-permissions': new iam.PolicyDocument({ statements: statements.map(policyStatement) }),
      },
    });
    this.statements = statements;
    const sources = props.handlers.map(([h]) => `lambdas/${h}/handler.toml`).join(', ');
    acknowledge(this.cfnRole as IConstruct, declaredAcknowledgements(statements, sources));
  }

  /** The `AWS::IAM::Role` resource (the member template puts a Condition on it). */
  public get cfnRole(): iam.CfnRole {
    return this.node.defaultChild as iam.CfnRole;
  }
}
