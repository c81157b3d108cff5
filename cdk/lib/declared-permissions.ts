/**
 * The IAM statements handlers declare in their handler.toml, turned into policy statements
 * (placeholders substituted) and into the exact cdk-nag acknowledgements they need: one
 * `AwsSolutions-IAM5[Resource::...]` per wildcard resource a declared statement names, with
 * the declaration's `why` as its reason. Nothing broader: a statement that is not declared
 * gets no acknowledgement, so a `*` added anywhere else still fails cdk-nag.
 */
import { createHash } from 'node:crypto';
import { Fn, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, type IConstruct } from 'constructs';
import type { PermissionStatement } from './manifest';

/** One cdk-nag finding acknowledged, and why. */
export interface DeclaredAcknowledgement {
  /** `AwsSolutions-IAM5[Resource::<resource as cdk-nag flattens it>]`. */
  readonly id: string;
  readonly reason: string;
}

/**
 * A resource as the policy carries it: `Fn::Sub` when it holds `${AWS::...}` placeholders,
 * the string itself otherwise.
 */
export function declaredResource(resource: string): string {
  return resource.includes('${') ? Fn.sub(resource) : resource;
}

export function policyStatement(statement: PermissionStatement): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: [...statement.actions],
    resources: statement.resources.map(declaredResource),
  });
}

/**
 * The resource as cdk-nag names it in an IAM5 finding: `Fn::Sub` placeholders become
 * `<AWS::Partition>` (cdk-nag's flattenCfnReference).
 */
export function nagResourceName(resource: string): string {
  return resource.replace(/\$\{/g, '<').replace(/\}/g, '>');
}

/**
 * The acknowledgements `statements` need: each resource with a `*` in it, once, with the
 * `why` of the statements that name it (or, for a scoped ARN whose wildcard only stands for
 * names the handler finds at run time, a reason saying so). `source` says where they are
 * declared, for the reason. Actions never need one: `patrol validate` rejects wildcards.
 */
export function declaredAcknowledgements(
  statements: readonly PermissionStatement[],
  source: string,
): DeclaredAcknowledgement[] {
  const reasons = new Map<string, string[]>();
  for (const s of statements) {
    for (const resource of s.resources.filter((r) => r.includes('*'))) {
      const reason =
        s.why ??
        `${s.actions.join(', ')} scoped to ${resource}: the wildcard stands only for the names of the ` +
          'resources the handler discovers at run time';
      const list = reasons.get(resource) ?? [];
      if (!list.includes(reason)) {
        list.push(reason);
      }
      reasons.set(resource, list);
    }
  }
  return [...reasons.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([resource, why]) => ({
      id: `AwsSolutions-IAM5[Resource::${nagResourceName(resource)}]`,
      reason: `Declared in ${source}: ${why.join('; ')}.`,
    }));
}

/** Records `acknowledgements` on `construct` only (cdk-nag 3 applies them to its subtree). */
export function acknowledge(construct: IConstruct, acknowledgements: readonly DeclaredAcknowledgement[]): void {
  for (const ack of acknowledgements) {
    Validations.of(construct).acknowledge({ id: ack.id, reason: ack.reason });
  }
}

export interface DeclaredPoliciesProps {
  /** The role the statements are granted to. */
  readonly role: iam.IRole;
  readonly statements: readonly PermissionStatement[];
  /** Where they are declared (`lambdas/<handler>/handler.toml`), for the reasons. */
  readonly source: string;
}

/**
 * One `AWS::IAM::Policy` per declared statement, attached to the role, each acknowledging
 * exactly its own wildcard resources. Construct ids come from the statement's content, so
 * reordering the statements in handler.toml replaces nothing.
 */
export class DeclaredPolicies extends Construct {
  public readonly policies: readonly iam.Policy[];

  constructor(scope: Construct, id: string, props: DeclaredPoliciesProps) {
    super(scope, id);
    const policies: iam.Policy[] = [];
    const seen = new Set<string>();
    for (const statement of props.statements) {
      const key = createHash('sha256').update(JSON.stringify(statement)).digest('hex').slice(0, 10);
      if (seen.has(key)) {
        continue;
      }
      seen.add(key);
      const policy = new iam.Policy(this, `Statement-${key}`, {
        statements: [policyStatement(statement)],
        roles: [props.role],
      });
      // On the policy resource itself, so nothing else under the handler is covered.
      acknowledge(policy.node.defaultChild as IConstruct, declaredAcknowledgements([statement], props.source));
      policies.push(policy);
    }
    this.policies = policies;
  }
}
