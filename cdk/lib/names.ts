/**
 * Every physical name Patrol deploys, derived from one prefix. The shipped
 * `patrol-*-tampered` rules in rules.toml match these names; cdk/test/names.test.ts fails
 * when the two drift apart.
 */

/** The prefix of every stack, bus, rule, function, role, topic, queue, table and alarm. */
export const PREFIX = 'patrol';

/** CloudFormation stack names. */
export const CENTRAL_STACK = `${PREFIX}-central`;
export const ORGANIZATION_STACK = `${PREFIX}-organization`;
export const FORWARDER_STACK = `${PREFIX}-forwarder`;
/** The service-managed StackSet of the member template; AWS names its stacks `StackSet-<name>-<uuid>`. */
export const MEMBER_STACKSET = `${PREFIX}-member`;

/** The central custom event bus every account forwards to. */
export const CENTRAL_BUS = `${PREFIX}-central`;
/** The role EventBridge assumes in each account to put events on the central bus (IAM is global). */
export const FORWARDER_ROLE = `${PREFIX}-forwarder`;
/**
 * The read-only role audit handlers assume in every account (central, management, members):
 * IAM is global, so one per account, created by the account's us-east-1 stack (the central
 * stack in the central account).
 */
export const AUDIT_ROLE = `${PREFIX}-audit`;
/** The member-side scheduled rule whose events prove an account and region still forward. */
export const HEARTBEAT_RULE = `${PREFIX}-heartbeat`;
/** The central bus rule that hands every heartbeat to the notify function. */
export const HEARTBEATS_RULE = `${PREFIX}-heartbeats`;
/** The schedule that reports accounts and regions whose heartbeats stopped. */
export const WATCHDOG_RULE = `${PREFIX}-watchdog`;
/** Where each account and region keeps the events the central bus refused. */
export const FORWARD_DEAD_LETTER_QUEUE = `${PREFIX}-forward-dead-letters`;
/** The state table: dedup windows and the delivery ledger. */
export const STATE_TABLE = `${PREFIX}-state`;
export const OPERATORS_TOPIC = `${PREFIX}-operators`;

export function forwardRuleName(coverId: string): string {
  return `${PREFIX}-forward-${coverId}`;
}
export function feedRuleName(handler: string, coverId: string): string {
  return `${PREFIX}-feed-${handler}-${coverId}`;
}
export function scheduleRuleName(handler: string, group: string): string {
  return `${PREFIX}-schedule-${handler}-${group}`;
}
export function functionName(handler: string): string {
  return `${PREFIX}-${handler}`;
}
export function webhookFunctionName(handler: string): string {
  return `${PREFIX}-${handler}-webhooks`;
}
export function handlerRoleName(handler: string, region: string): string {
  return `${PREFIX}-${handler}-${region}`;
}
export function routeTopicName(routeId: string): string {
  return `${PREFIX}-${routeId}`;
}
export function failureQueueName(handler: string): string {
  return `${PREFIX}-${handler}-failures`;
}
