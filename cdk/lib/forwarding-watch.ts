import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { HandlerFunction } from './handler-function';
import { HEARTBEAT_RULE, HEARTBEATS_RULE, PREFIX, WATCHDOG_RULE } from './names';

/** How often the watchdog looks, and how long an account and region may stay silent. */
export const WATCHDOG_SCHEDULE = 'rate(15 minutes)';
export const SILENT_AFTER = Duration.minutes(30);
/** Namespace of the metrics the function emits (CloudWatch embedded metric format). */
export const METRICS_NAMESPACE = 'Patrol';

export interface ForwardingWatchProps {
  /** The `notify` function, which records heartbeats and runs the watchdog. */
  readonly fn: HandlerFunction;
  /** The central bus, where every account's heartbeats arrive. */
  readonly bus: events.IEventBus;
  readonly operatorsTopic: sns.ITopic;
}

/**
 * Notices an account or region that stopped forwarding. Every forwarder sends a
 * `patrol-heartbeat` event to the central bus every 5 minutes; here a rule on the bus hands
 * each to the notify function, which records when each account and region was last heard
 * of (state table, kept 7 days), and a watchdog schedule every 15 minutes reports those
 * silent for 30 minutes as the metric `Patrol/SilentForwarders`, one log line each. Two
 * alarms tell the operators: some account or region went silent, or no heartbeat arrives at
 * all (the central bus, its policy or the function is broken).
 */
export class ForwardingWatch extends Construct {
  public readonly heartbeats: events.CfnRule;
  public readonly watchdog: events.CfnRule;
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ForwardingWatchProps) {
    super(scope, id);
    const { fn } = props;
    const stack = Stack.of(this);
    const eventsPrincipal = new iam.ServicePrincipal('events.amazonaws.com');
    const target = (input: object): events.CfnRule.TargetProperty => ({
      id: 'Function',
      arn: fn.function.functionArn,
      inputTransformer: { inputTemplate: `${JSON.stringify(input).slice(0, -1)},"event":<aws.events.event.json>}` },
      // A heartbeat is worth one schedule period; the next one says the same.
      retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 300 },
      deadLetterConfig: { arn: fn.failures.queue.queueArn },
    });

    this.heartbeats = new events.CfnRule(this, 'Heartbeats', {
      name: HEARTBEATS_RULE,
      eventBusName: props.bus.eventBusName,
      description: 'Patrol: the heartbeat of every forwarding account and region',
      eventPattern: {
        source: ['aws.events'],
        'detail-type': ['Scheduled Event'],
        resources: [{ suffix: `:rule/${HEARTBEAT_RULE}` }],
      },
      state: 'ENABLED',
      targets: [target({ patrol: { heartbeat: {} } })],
    });
    this.watchdog = new events.CfnRule(this, 'Watchdog', {
      name: WATCHDOG_RULE,
      description: `Patrol: reports accounts and regions silent for ${SILENT_AFTER.toHumanString()}`,
      scheduleExpression: WATCHDOG_SCHEDULE,
      state: 'ENABLED',
      targets: [target({ patrol: { watchdog: { silent_after_seconds: SILENT_AFTER.toSeconds() } } })],
    });
    for (const [name, rule] of [
      ['InvokeFromHeartbeats', this.heartbeats],
      ['InvokeFromWatchdog', this.watchdog],
    ] as const) {
      fn.function.addPermission(name, { principal: eventsPrincipal, sourceArn: rule.attrArn, sourceAccount: stack.account });
    }
    fn.failures.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'UndeliverableHeartbeatsAndWatchdog',
        principals: [eventsPrincipal],
        actions: ['sqs:SendMessage'],
        resources: [fn.failures.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': [this.heartbeats.attrArn, this.watchdog.attrArn] } },
      }),
    );
    // The watchdog reads the heartbeat items; the item grants do not include Scan.
    fn.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:Scan'], resources: [fn.stateTable.table.tableArn] }),
    );

    const metric = (metricName: string, statistic: string, period: Duration): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, period, statistic });
    const silent = new cloudwatch.Alarm(this, 'Silent', {
      alarmName: `${PREFIX}-forwarding-silent`,
      alarmDescription:
        `Patrol: an account or region has sent no heartbeat for ${SILENT_AFTER.toHumanString()}; its events no longer ` +
        `reach the rules. The ${fn.function.functionName} log (search "stopped forwarding") names it; see the README, Troubleshooting`,
      // Two watchdog runs per period: one run landing late never leaves a period without data.
      metric: metric('SilentForwarders', cloudwatch.Stats.MAXIMUM, Duration.minutes(30)),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // No data: the watchdog did not run, which is as bad.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const none = new cloudwatch.Alarm(this, 'NoHeartbeats', {
      alarmName: `${PREFIX}-heartbeats-missing`,
      alarmDescription:
        'Patrol: no heartbeat reached the central bus in 15 minutes: no account forwards (central bus, its policy, the ' +
        'forwarders or the function is broken); see the README, Troubleshooting',
      metric: metric('Heartbeats', cloudwatch.Stats.SUM, Duration.minutes(15)),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    for (const alarm of [silent, none]) {
      alarm.addAlarmAction(new actions.SnsAction(props.operatorsTopic));
      alarm.addOkAction(new actions.SnsAction(props.operatorsTopic));
    }
    this.alarms = [silent, none];
  }
}
