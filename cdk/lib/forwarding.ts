import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import type { Cover } from './manifest';
import { CENTRAL_BUS, FORWARD_DEAD_LETTER_QUEUE, forwardRuleName, HEARTBEAT_RULE } from './names';
import { recordPatrolRules } from './quotas';

/** How often every forwarding account and region proves it still forwards. */
export const HEARTBEAT_SCHEDULE = 'rate(5 minutes)';

/**
 * Retry policy of a forwarded event: EventBridge's maxima (24 hours, 185 attempts, with
 * exponential back-off). A security event delivered late still raises its alert (the
 * delivery ledger keeps a retried event from alerting twice), so a central-region outage of
 * up to a day costs latency, not events; past that, or at once for errors EventBridge does
 * not retry (the central bus's policy refuses the sender, the role cannot be assumed, the bus
 * does not exist), the event goes to the dead-letter queue.
 */
export const FORWARD_RETRY: events.CfnRule.RetryPolicyProperty = {
  maximumEventAgeInSeconds: Duration.hours(24).toSeconds(),
  maximumRetryAttempts: 185,
};

/**
 * Retry policy of a heartbeat: one schedule period. A heartbeat older than that says nothing
 * the next one will not say, and the central side notices a missing heartbeat, so it gets no
 * dead-letter queue either (which would only fill with 288 copies a day during an outage).
 */
export const HEARTBEAT_RETRY: events.CfnRule.RetryPolicyProperty = {
  maximumEventAgeInSeconds: Duration.minutes(5).toSeconds(),
  maximumRetryAttempts: 185,
};

const DEAD_LETTER_QUEUE_ID = 'DeadLetters';

/** The target id of every forwarding rule's one target. */
const CENTRAL_BUS_TARGET_ID = CENTRAL_BUS;

export interface ForwardingProps {
  /** The manifest's `covers.forwarding`: one rule each. */
  readonly covers: readonly Cover[];
  /**
   * Where every forwarded event goes. From another account or region:
   * `CentralBus.arn(account, region, Aws.PARTITION)`, built from the manifest, never a
   * reference to the central stack's bus (a cross-account, cross-region reference); in the
   * central stack itself, the bus's own ARN.
   */
  readonly centralBusArn: string;
  /**
   * The role EventBridge assumes to put events on the central bus (`patrol-forwarder`).
   *
   * @default - none: the central bus is in this account and region, which needs no role
   */
  readonly role?: iam.IRole;
  /**
   * Also send a scheduled `patrol-heartbeat` event to the central bus every 5 minutes.
   *
   * @default true
   */
  readonly heartbeat?: boolean;
}

/**
 * What one account and region sends to the central bus: one `patrol-forward-<cover id>`
 * rule per forwarding cover on the default bus, each with the cover's pattern verbatim and
 * the central bus as its one target, plus the `patrol-heartbeat` schedule. Events the central
 * bus does not accept in time are kept in a dead-letter queue (encrypted, TLS only, 14 days)
 * that only these rules may write to. The member template, the management account's and the
 * central account's forwarder stacks all use this construct.
 *
 * Construct ids derive from cover ids only, so adding, removing or reordering covers never
 * changes another cover's logical id.
 */
export class Forwarding extends Construct {
  /** Cover id → its forwarding rule. */
  public readonly rules: ReadonlyMap<string, events.CfnRule>;
  /** Present unless `heartbeat: false`. */
  public readonly heartbeat?: events.CfnRule;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ForwardingProps) {
    super(scope, id);

    this.deadLetterQueue = new sqs.Queue(this, DEAD_LETTER_QUEUE_ID, {
      // One Forwarding per account and region, so the name is unique where it lives.
      queueName: FORWARD_DEAD_LETTER_QUEUE,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const roleArn = props.role === undefined ? {} : { roleArn: props.role.roleArn };
    const rules = new Map<string, events.CfnRule>();
    for (const cover of props.covers) {
      const rule = new events.CfnRule(this, `Forward-${cover.id}`, {
        name: forwardRuleName(cover.id),
        // Read-only management events (Get*, List*, Describe*) reach only rules in this state.
        state: cover.include_read_only ? 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' : 'ENABLED',
        // Verbatim: patrol computed and checked it (operators, `$or`, size); nothing to re-type.
        eventPattern: cover.pattern,
        targets: [
          {
            id: CENTRAL_BUS_TARGET_ID,
            arn: props.centralBusArn,
            ...roleArn,
            retryPolicy: FORWARD_RETRY,
            deadLetterConfig: { arn: this.deadLetterQueue.queueArn },
          },
        ],
      });
      recordPatrolRules(rule, cover.rules);
      rules.set(cover.id, rule);
    }
    this.rules = rules;

    if (props.heartbeat ?? true) {
      this.heartbeat = new events.CfnRule(this, 'Heartbeat', {
        name: HEARTBEAT_RULE,
        state: 'ENABLED',
        scheduleExpression: HEARTBEAT_SCHEDULE,
        targets: [{ id: CENTRAL_BUS_TARGET_ID, arn: props.centralBusArn, ...roleArn, retryPolicy: HEARTBEAT_RETRY }],
      });
    }

    if (rules.size > 0) {
      this.deadLetterQueue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'ForwardRulesDeadLetters',
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [this.deadLetterQueue.queueArn],
          conditions: { ArnEquals: { 'aws:SourceArn': [...rules.values()].map((rule) => rule.attrArn) } },
        }),
      );
    }
  }
}

/** The forwarding dead-letter queue (for its cdk-nag acknowledgement). */
export function isForwardingDeadLetterQueue(construct: IConstruct): boolean {
  return (
    construct instanceof sqs.Queue &&
    construct.node.id === DEAD_LETTER_QUEUE_ID &&
    construct.node.scope instanceof Forwarding
  );
}
