import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Stack, Tags } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import type { DedupTable } from './dedup-table';
import {
  PATROL_DEDUP_TABLE,
  PATROL_FAILURE_QUEUE_URL,
  PATROL_RULE,
  PATROL_RULE_ID,
  PATROL_SINKS,
  RUST_LOG,
} from './env';
import { FailureQueue } from './failure-queue';
import type { Rule, SecretRef, Trigger } from './manifest';
import { LAMBDAS_DIR } from './paths';
import { grantReadSecrets } from './secret-access';
import { SnsSubscriptionTrigger } from './sns-trigger';
import { WebhookEndpoint } from './webhook-trigger';

/** A route the rule sends to, resolved: an `sns` route to its topic, the others as written. */
export type RuleSink =
  | { readonly type: 'sns'; readonly route: string; readonly topic: sns.ITopic }
  | { readonly type: 'slack' | 'pagerduty'; readonly route: string; readonly secret: SecretRef }
  | { readonly type: 'webhook'; readonly route: string; readonly url: string; readonly secret?: SecretRef };

export interface PatrolRuleProps {
  /** The rule exactly as the normalized manifest holds it. */
  readonly rule: Rule;
  /** The rule's routes (`rule.notify`), in that order. */
  readonly sinks: readonly RuleSink[];
  /** Notified when the rule's events fail. */
  readonly operatorsTopic: sns.ITopic;
  /**
   * The shared dedup table; required when the rule has `dedup`.
   *
   * @default - none
   */
  readonly dedupTable?: DedupTable;
  /**
   * CPU architecture of the function; the bundle is cross-compiled for it.
   *
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Cargo profile of the bundle: `release` for deployment, `lambda-dev` for quick checks.
   *
   * @default 'release'
   */
  readonly cargoProfile?: string;
  /**
   * Folder holding one crate per handler (`<lambdasDir>/<handler>/Cargo.toml`).
   *
   * @default - `<repo>/lambdas`
   */
  readonly lambdasDir?: string;
  /**
   * Async retries after the first failed invocation, before the event goes to the
   * failure queue.
   *
   * @default 2
   */
  readonly retryAttempts?: number;
}

/** Lambda's limit for all environment variables of a function together. */
const LAMBDA_ENV_LIMIT_BYTES = 4096;

/**
 * One manifest rule: its trigger (an EventBridge rule for a pattern or schedule, a
 * subscription to an SNS topic, or a function URL for webhooks) invoking the rule's Rust
 * handler, with retries, a failure queue and an alarm, and grants for exactly the secrets
 * and dedup table it uses. Every id below it is fixed, so its logical ids depend on the
 * rule id only.
 */
export class PatrolRule extends Construct {
  /** The manifest rule this construct deploys. */
  public readonly rule: Rule;
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  /** For `event` and `schedule` triggers. */
  public readonly eventRule?: events.CfnRule;
  /** For `sns` triggers. */
  public readonly topicSubscription?: SnsSubscriptionTrigger;
  /** For `webhook` triggers. */
  public readonly webhook?: WebhookEndpoint;
  public readonly failures: FailureQueue;

  constructor(scope: Construct, id: string, props: PatrolRuleProps) {
    super(scope, id);
    const { rule } = props;
    this.rule = rule;
    const stack = Stack.of(this);

    const manifestPath = path.join(props.lambdasDir ?? LAMBDAS_DIR, rule.handler, 'Cargo.toml');
    if (!fs.existsSync(manifestPath)) {
      throw new Error(
        `rule \`${rule.id}\`: handler \`${rule.handler}\` has no crate at ${manifestPath} ` +
          `(a handler is a crate in lambdas/ whose binary has the same name)`,
      );
    }

    this.failures = new FailureQueue(this, 'Failures', { owner: `rule ${rule.id}`, alarmTopic: props.operatorsTopic });

    const logGroup = new logs.LogGroup(this, 'Logs');
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Patrol rule ${rule.id}`,
    });
    logGroup.grantWrite(this.role);
    for (const sink of props.sinks) {
      if (sink.type === 'sns') {
        sink.topic.grantPublish(this.role);
      }
    }
    grantReadSecrets(this.role, this, [...props.sinks.flatMap(sinkSecret), ...triggerSecret(rule.trigger)]);
    if (rule.permissions.length > 0) {
      // The manifest's `permissions` is the rule's own least-privilege list; the actions it
      // names (list/describe calls of a scheduled audit) take no resource-level scoping.
      this.role.addToPolicy(new iam.PolicyStatement({ actions: [...rule.permissions], resources: ['*'] }));
    }

    const environment: Record<string, string> = {};
    if (rule.dedup !== undefined) {
      if (!props.dedupTable) {
        throw new Error(`rule \`${rule.id}\` has \`dedup\` but no dedup table was given to PatrolRule`);
      }
      props.dedupTable.grantWindowAccess(this.role);
      environment[PATROL_DEDUP_TABLE] = props.dedupTable.table.tableName;
    }
    if (rule.trigger.type === 'webhook') {
      // A function URL invokes synchronously: no async retries, no on-failure destination
      // for Lambda to use, so the handler writes what it failed on to the queue itself. (The
      // destination below grants the same; this states what the handler relies on.)
      this.failures.queue.grantSendMessages(this.role);
      environment[PATROL_FAILURE_QUEUE_URL] = this.failures.queue.queueUrl;
    }

    // The function evaluates the rule as validated; the deployed pattern is EventBridge's.
    const { deployed_pattern: _deployed, pattern_suppressions: _compiled, ...runtimeRule } = rule;
    const ruleJson = JSON.stringify(runtimeRule);
    const sinksJson = stack.toJsonString(props.sinks.map(sinkJson));
    checkEnvironmentSize(rule, ruleJson, props.sinks, Object.keys(environment).length);

    this.function = new RustFunction(this, 'Function', {
      manifestPath,
      binaryName: rule.handler,
      runtime: 'provided.al2023',
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      bundling: { profile: props.cargoProfile ?? 'release' },
      memorySize: 128,
      timeout: Duration.seconds(10),
      description: truncate(`Patrol rule ${rule.id}: ${rule.description}`, 256),
      role: this.role,
      logGroup,
      environment: {
        [PATROL_RULE_ID]: rule.id,
        [PATROL_RULE]: ruleJson,
        [PATROL_SINKS]: sinksJson,
        ...environment,
        [RUST_LOG]: 'info',
      },
      retryAttempts: props.retryAttempts ?? 2,
      onFailure: new destinations.SqsDestination(this.failures.queue),
    });

    const { trigger } = rule;
    switch (trigger.type) {
      case 'event':
      case 'schedule':
        this.eventRule = this.addEventBridgeTrigger(rule, trigger);
        break;
      case 'sns':
        this.topicSubscription = new SnsSubscriptionTrigger(this, 'Trigger', {
          trigger,
          function: this.function,
          failureQueue: this.failures.queue,
        });
        break;
      case 'webhook':
        this.webhook = new WebhookEndpoint(this, 'Trigger', { ruleId: rule.id, trigger, function: this.function });
        break;
      default:
        throw unsupportedTrigger(rule.id, trigger);
    }

    Tags.of(this).add('patrol:rule', rule.id);
    Tags.of(this).add('patrol:severity', rule.severity);
  }

  /** The EventBridge rule that invokes the function, and its dead-letter path. */
  private addEventBridgeTrigger(rule: Rule, trigger: Extract<Trigger, { type: 'event' | 'schedule' }>): events.CfnRule {
    const eventRule = new events.CfnRule(this, 'Trigger', {
      description: truncate(`Patrol rule ${rule.id}: ${rule.description}`, 512),
      ...eventBridgeProperties(rule, trigger),
      targets: [
        {
          id: 'Function',
          arn: this.function.functionArn,
          retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: Duration.hours(4).toSeconds() },
          deadLetterConfig: { arn: this.failures.queue.queueArn },
        },
      ],
    });

    const eventsPrincipal = new iam.ServicePrincipal('events.amazonaws.com');
    this.function.addPermission('InvokeFromTrigger', {
      principal: eventsPrincipal,
      sourceArn: eventRule.attrArn,
    });
    this.failures.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'UndeliverableEventsFromTrigger',
        principals: [eventsPrincipal],
        actions: ['sqs:SendMessage'],
        resources: [this.failures.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': eventRule.attrArn } },
      }),
    );
    return eventRule;
  }
}

/**
 * The EventBridge side of a trigger. The pattern goes to CloudFormation verbatim: CDK's
 * typed `EventPattern` would rename keys and cannot hold operators such as `prefix` or `$or`.
 * It is the `deployed_pattern` (suppressions compiled in) when patrol provides one.
 */
function eventBridgeProperties(
  rule: Rule,
  trigger: Extract<Trigger, { type: 'event' | 'schedule' }>,
): Pick<events.CfnRuleProps, 'eventPattern' | 'scheduleExpression' | 'state'> {
  if (trigger.type === 'event') {
    return {
      eventPattern: rule.deployed_pattern ?? trigger.pattern,
      state: trigger.include_read_only ? 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' : 'ENABLED',
    };
  }
  return { scheduleExpression: trigger.expression, state: 'ENABLED' };
}

/** A trigger type newer than this app (the manifest JSON is typed, not re-validated). */
function unsupportedTrigger(ruleId: string, trigger: never): Error {
  const type = String((trigger as { type?: unknown }).type);
  return new Error(
    `rule \`${ruleId}\`: trigger type \`${type}\` is not supported by this CDK app ` +
      `(supported: event, schedule, sns, webhook); rebuild the patrol CLI and the CDK app from the same commit`,
  );
}

/** One `PATROL_SINKS` entry; see env.ts for the shapes. */
function sinkJson(sink: RuleSink): Record<string, string> {
  switch (sink.type) {
    case 'sns':
      return { route: sink.route, type: 'sns', topic_arn: sink.topic.topicArn };
    case 'slack':
    case 'pagerduty':
      return { route: sink.route, type: sink.type, secret: sink.secret };
    case 'webhook':
      return {
        route: sink.route,
        type: 'webhook',
        url: sink.url,
        ...(sink.secret === undefined ? {} : { secret: sink.secret }),
      };
  }
}

function sinkSecret(sink: RuleSink): SecretRef[] {
  return sink.type !== 'sns' && sink.secret !== undefined ? [sink.secret] : [];
}

function triggerSecret(trigger: Trigger): SecretRef[] {
  return trigger.type === 'webhook' ? [trigger.secret] : [];
}

function checkEnvironmentSize(rule: Rule, ruleJson: string, sinks: readonly RuleSink[], extraVariables: number): void {
  // Topic ARNs, the table name and the queue URL are tokens here; 256 bytes each covers the
  // longest of them plus its JSON.
  const sinkBytes = sinks.reduce(
    (n, sink) => n + (sink.type === 'sns' ? 256 : JSON.stringify(sinkJson(sink)).length + 1),
    0,
  );
  const estimate = ruleJson.length + sinkBytes + extraVariables * 256 + 128;
  if (estimate > LAMBDA_ENV_LIMIT_BYTES) {
    throw new Error(
      `rule \`${rule.id}\`: its definition (${ruleJson.length} bytes of JSON) does not fit the ` +
        `${LAMBDA_ENV_LIMIT_BYTES}-byte Lambda environment; shorten its pattern, message or params`,
    );
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
