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
import { PATROL_RULE, PATROL_RULE_ID, PATROL_SINKS, RUST_LOG } from './env';
import { FailureQueue } from './failure-queue';
import type { Rule } from './manifest';
import { LAMBDAS_DIR } from './paths';

/** A route the rule publishes to, resolved to its topic. */
export interface RuleSink {
  readonly route: string;
  readonly topic: sns.ITopic;
}

export interface PatrolRuleProps {
  /** The rule exactly as the normalized manifest holds it. */
  readonly rule: Rule;
  /** The rule's routes (`rule.notify`), in that order. */
  readonly sinks: readonly RuleSink[];
  /** Notified when the rule's events fail. */
  readonly operatorsTopic: sns.ITopic;
  /**
   * CPU architecture of the function; the bundle is cross-compiled for it.
   *
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
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
 * One manifest rule: its EventBridge rule (pattern or schedule) invoking the rule's Rust
 * handler, with retries, a failure queue and an alarm. Every id below it is fixed, so
 * its logical ids depend on the rule id only.
 */
export class PatrolRule extends Construct {
  /** The manifest rule this construct deploys. */
  public readonly rule: Rule;
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly eventRule: events.CfnRule;
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
      sink.topic.grantPublish(this.role);
    }
    if (rule.permissions.length > 0) {
      // The manifest's `permissions` is the rule's own least-privilege list; the actions it
      // names (list/describe calls of a scheduled audit) take no resource-level scoping.
      this.role.addToPolicy(new iam.PolicyStatement({ actions: [...rule.permissions], resources: ['*'] }));
    }

    const ruleJson = JSON.stringify(rule);
    const sinksJson = stack.toJsonString(
      props.sinks.map((sink) => ({ route: sink.route, type: 'sns', topic_arn: sink.topic.topicArn })),
    );
    checkEnvironmentSize(rule, ruleJson, props.sinks.length);

    this.function = new RustFunction(this, 'Function', {
      manifestPath,
      binaryName: rule.handler,
      runtime: 'provided.al2023',
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: 128,
      timeout: Duration.seconds(10),
      description: truncate(`Patrol rule ${rule.id}: ${rule.description}`, 256),
      role: this.role,
      logGroup,
      environment: {
        [PATROL_RULE_ID]: rule.id,
        [PATROL_RULE]: ruleJson,
        [PATROL_SINKS]: sinksJson,
        [RUST_LOG]: 'info',
      },
      retryAttempts: props.retryAttempts ?? 2,
      onFailure: new destinations.SqsDestination(this.failures.queue),
    });

    this.eventRule = new events.CfnRule(this, 'Trigger', {
      description: truncate(`Patrol rule ${rule.id}: ${rule.description}`, 512),
      ...triggerProperties(rule),
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
      sourceArn: this.eventRule.attrArn,
    });
    this.failures.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'UndeliverableEventsFromTrigger',
        principals: [eventsPrincipal],
        actions: ['sqs:SendMessage'],
        resources: [this.failures.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': this.eventRule.attrArn } },
      }),
    );

    Tags.of(this).add('patrol:rule', rule.id);
    Tags.of(this).add('patrol:severity', rule.severity);
  }
}

/**
 * The EventBridge side of a trigger. The pattern goes to CloudFormation verbatim: CDK's
 * typed `EventPattern` would rename keys and cannot hold operators such as `prefix` or `$or`.
 */
function triggerProperties(rule: Rule): Pick<events.CfnRuleProps, 'eventPattern' | 'scheduleExpression' | 'state'> {
  const { trigger } = rule;
  if (trigger.type === 'event' && 'pattern' in trigger) {
    return {
      eventPattern: trigger.pattern,
      state: trigger.include_read_only ? 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' : 'ENABLED',
    };
  }
  if (trigger.type === 'schedule' && 'expression' in trigger) {
    return { scheduleExpression: trigger.expression, state: 'ENABLED' };
  }
  throw new Error(
    `rule \`${rule.id}\`: trigger type \`${trigger.type}\` is not supported by the CDK app yet ` +
      `(supported: event, schedule)`,
  );
}

function checkEnvironmentSize(rule: Rule, ruleJson: string, sinkCount: number): void {
  // Topic ARNs are tokens here; 256 bytes per sink covers the longest ARN plus its JSON.
  const estimate = ruleJson.length + sinkCount * 256 + 128;
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
