import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface FailureQueueProps {
  /** Named in the alarm description, e.g. `handler notify`. */
  readonly owner: string;
  /** The queue's physical name. */
  readonly queueName: string;
  /** Notified when anything lands in the queue. */
  readonly alarmTopic: sns.ITopic;
  /**
   * How long failed events are kept for inspection and redrive.
   *
   * @default Duration.days(14) (the SQS maximum)
   */
  readonly retentionPeriod?: Duration;
}

/**
 * Where a rule's events go when they could not be handled: EventBridge's dead-letter queue
 * for undeliverable events, an SNS trigger's redrive target for undeliverable messages, the
 * function's on-failure destination after async retries, and, for webhook rules (invoked
 * synchronously), where the handler itself writes requests it failed on.
 * Encrypted (SSE-SQS, which EventBridge, SNS and Lambda can write without a key policy), TLS
 * only, and alarmed on messages *sent*: every new failure notifies the operators again,
 * even while older ones still wait in the queue (an alarm on visible messages would stay in
 * ALARM after the first failure and never fire again).
 */
export class FailureQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: FailureQueueProps) {
    super(scope, id);

    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.retentionPeriod ?? Duration.days(14),
    });

    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmName: `${props.queueName}-received`,
      alarmDescription:
        `Patrol: events for ${props.owner} failed and were put in the failure queue ${props.queueName}; ` +
        'each message names the rule, the route and the error (see the README, Troubleshooting)',
      metric: this.queue.metricNumberOfMessagesSent({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
  }
}
