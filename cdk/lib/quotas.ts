/**
 * AWS quotas a synthesized Patrol app must fit on a fresh account with default limits,
 * checked when the app is synthesized: a breach fails synth with a message that names the
 * Patrol rules involved and how to fix it, instead of a half-finished `cdk deploy`.
 *
 * Each Patrol construct that creates an EventBridge rule records which manifest rules it
 * serves (`recordPatrolRules`), so the messages can name them.
 */
import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/** The limits, as documented by AWS (see TOOLCHAIN.md's table). */
export const QUOTAS = {
  resourcesPerStack: 500,
  rulesPerBus: 300,
  wildcardRulesPerBus: 30,
  patternCharacters: 2048,
  environmentBytes: 4096,
  resourcePolicyBytes: 20_480,
} as const;

/** Bytes a token (an ARN, a URL, a name from another resource) may take once resolved. */
const TOKEN_ESTIMATE = 256;
/** Bytes one Lambda permission statement takes in the function's resource policy. */
const PERMISSION_ESTIMATE = 400;

const patrolRules = new WeakMap<IConstruct, readonly string[]>();

/** Records the manifest rules an EventBridge rule (or another resource) serves, for messages. */
export function recordPatrolRules(construct: IConstruct, rules: readonly string[]): void {
  patrolRules.set(construct, rules);
}

function rulesOf(construct: IConstruct): readonly string[] {
  return patrolRules.get(construct) ?? [];
}

function list(items: readonly string[], max = 12): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown}, ... (${items.length} in all)` : shown;
}

/** Everything in `stack` (not in nested stages) of type `T`. */
function inStack<T extends IConstruct>(stack: Stack, type: abstract new (...args: never[]) => T): T[] {
  return stack.node.findAll().filter((c): c is T => c instanceof type && Stack.of(c) === stack);
}

/** The bus a rule is on, by name: `default`, or a bus of this stack named by its `Name`. */
function busOf(rule: events.CfnRule): string {
  const bus = rule.eventBusName;
  if (bus === undefined) {
    return 'default';
  }
  if (!Token.isUnresolved(bus)) {
    return bus;
  }
  const stack = Stack.of(rule);
  const resolved = JSON.stringify(stack.resolve(bus));
  const named = inStack(stack, events.CfnEventBus).find((b) => JSON.stringify(stack.resolve(b.ref)) === resolved);
  return named?.name ?? resolved;
}

function patternText(rule: events.CfnRule): string | undefined {
  const pattern = rule.eventPattern as unknown;
  if (pattern === undefined || pattern === null) {
    return undefined;
  }
  return typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
}

function ruleLabel(rule: events.CfnRule): string {
  const rules = rulesOf(rule);
  const name = typeof rule.name === 'string' && !Token.isUnresolved(rule.name) ? rule.name : rule.node.path;
  return rules.length > 0 ? `${name} (rules: ${list(rules, 6)})` : name;
}

/** The quota breaches in one stack; empty when it fits. */
export function quotaBreaches(stack: Stack): string[] {
  const errors: string[] = [];

  const resources = inStack(stack, CfnResource);
  if (resources.length > QUOTAS.resourcesPerStack) {
    const byType = new Map<string, number>();
    for (const r of resources) {
      byType.set(r.cfnResourceType, (byType.get(r.cfnResourceType) ?? 0) + 1);
    }
    const top = [...byType.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
    errors.push(
      `stack ${stack.stackName} has ${resources.length} resources; CloudFormation allows ${QUOTAS.resourcesPerStack} per stack. ` +
        `Most are ${top.map(([t, n]) => `${n} ${t}`).join(', ')}. Fewer sns routes, distinct schedules or SNS topics ` +
        'bring it down (rules themselves cost no resources).',
    );
  }

  const byBus = new Map<string, events.CfnRule[]>();
  for (const rule of inStack(stack, events.CfnRule)) {
    const bus = busOf(rule);
    byBus.set(bus, [...(byBus.get(bus) ?? []), rule]);
    const text = patternText(rule);
    if (text !== undefined && text.length > QUOTAS.patternCharacters) {
      errors.push(
        `EventBridge rule ${ruleLabel(rule)}: its pattern has ${text.length} characters; EventBridge allows ` +
          `${QUOTAS.patternCharacters}. Rebuild the patrol CLI and the CDK app from the same commit (patrol splits covers ` +
          'to fit), or shorten the patterns of the rules named.',
      );
    }
  }
  for (const [bus, rules] of byBus) {
    if (rules.length > QUOTAS.rulesPerBus) {
      errors.push(
        `${rules.length} EventBridge rules on bus ${bus} in stack ${stack.stackName}; EventBridge allows ` +
          `${QUOTAS.rulesPerBus} per bus by default: ${list(rules.map(ruleLabel), 8)}. Merge schedules that ` +
          'share an interval, or ask AWS to raise "Rules per event bus".',
      );
    }
    const wildcard = rules.filter((r) => patternText(r)?.includes('"wildcard"'));
    if (wildcard.length > QUOTAS.wildcardRulesPerBus) {
      errors.push(
        `${wildcard.length} EventBridge rules on bus ${bus} use \`wildcard\`; EventBridge allows ${QUOTAS.wildcardRulesPerBus} ` +
          `per bus and this limit cannot be raised: ${list(wildcard.map(ruleLabel), 8)}. Patrol's covers never use ` +
          'wildcard; rebuild the patrol CLI and the CDK app from the same commit.',
      );
    }
  }

  for (const fn of inStack(stack, lambda.CfnFunction)) {
    const variables = (stack.resolve(fn.environment) as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
    let bytes = 0;
    for (const [key, value] of Object.entries(variables)) {
      bytes += key.length + (typeof value === 'string' ? value.length : TOKEN_ESTIMATE);
    }
    if (bytes > QUOTAS.environmentBytes) {
      errors.push(
        `function ${fn.node.path}: its environment takes about ${bytes} bytes; Lambda allows ${QUOTAS.environmentBytes} ` +
          `for all variables together (${Object.keys(variables).join(', ')}). Rules belong in the config file, not the environment.`,
      );
    }
  }

  const permissions = new Map<string, lambda.CfnPermission[]>();
  for (const permission of inStack(stack, lambda.CfnPermission)) {
    const key = JSON.stringify(stack.resolve(permission.functionName));
    permissions.set(key, [...(permissions.get(key) ?? []), permission]);
  }
  for (const [fn, statements] of permissions) {
    const bytes = statements.length * PERMISSION_ESTIMATE;
    if (bytes > QUOTAS.resourcePolicyBytes) {
      const topics = statements.filter((p) => p.principal === 'sns.amazonaws.com').length;
      errors.push(
        `function ${fn}: ${statements.length} invoke permissions, about ${bytes} bytes of resource policy; Lambda allows ` +
          `${QUOTAS.resourcePolicyBytes}. ${topics} of them are SNS topics (one each): subscribe fewer topics to one ` +
          'handler (fan them into one topic), or split the rules across handlers.',
      );
    }
  }
  return errors;
}

/** Makes synth fail on any quota breach of `stack`. */
export function checkQuotas(stack: Stack): void {
  stack.node.addValidation({ validate: () => quotaBreaches(stack) });
}
