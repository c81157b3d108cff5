import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { HandlerFunction } from './handler-function';
import type { HandlerTriggers } from './handler-triggers';
import { functionName, PREFIX, webhookFunctionName } from './names';

export interface HandlerAlarmsProps {
  readonly fn: HandlerFunction;
  readonly triggers: HandlerTriggers;
  readonly operatorsTopic: sns.ITopic;
}

/**
 * What tells the operators that a handler is not doing its job, beyond the failure
 * queue's own alarm (every failed event): function errors (each failed attempt, before
 * Lambda's retries), throttles (events waiting or lost to concurrency), and for each
 * schedule a missing-invocation alarm (a scheduled audit that silently stopped running).
 * Each alarm notifies on ALARM and on OK, so a recovery is heard too.
 */
export class HandlerAlarms extends Construct {
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: HandlerAlarmsProps) {
    super(scope, id);
    const { fn, triggers } = props;
    const name = functionName(fn.handler);
    const alarms: cloudwatch.Alarm[] = [];
    const add = (alarm: cloudwatch.Alarm): void => {
      alarm.addAlarmAction(new actions.SnsAction(props.operatorsTopic));
      alarm.addOkAction(new actions.SnsAction(props.operatorsTopic));
      alarms.push(alarm);
    };

    const functions: Array<[string, lambda.IFunction, string]> = [['', fn.function, name]];
    if (fn.webhookFunction !== undefined) {
      functions.push(['Webhook', fn.webhookFunction, webhookFunctionName(fn.handler)]);
    }
    for (const [prefix, f, fName] of functions) {
      add(
        new cloudwatch.Alarm(this, `${prefix}Errors`, {
          alarmName: `${fName}-errors`,
          alarmDescription:
            `Patrol: function ${fName} failed on an event or request (events are retried, then kept in the failure ` +
            'queue); its log group says which rule and route failed',
          metric: f.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
      add(
        new cloudwatch.Alarm(this, `${prefix}Throttles`, {
          alarmName: `${fName}-throttles`,
          alarmDescription:
            prefix === ''
              ? `Patrol: function ${fName} was throttled; events wait in Lambda's queue and may expire into the failure queue. ` +
                'Raise the account concurrency limit or reserve concurrency for it'
              : `Patrol: function ${fName} was throttled at its reserved concurrency: webhook senders got 429 and retry ` +
                '(GitHub does not): a flood of requests, or raise patrol:webhookConcurrency',
          metric: f.metricThrottles({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    for (const [group, schedule] of triggers.scheduleRules) {
      const { period, evaluationPeriods } = silenceWindow(schedule.expression);
      add(
        new cloudwatch.Alarm(this, `Missed-${group}`, {
          alarmName: `${PREFIX}-${fn.handler}-${group}-missed`,
          alarmDescription:
            `Patrol: schedule ${schedule.expression} of ${fn.handler} did not run for ${period.toHumanString()} x ${evaluationPeriods}; ` +
            `rules not run: ${schedule.rules.join(', ')}`.slice(0, 900),
          metric: new cloudwatch.Metric({
            namespace: 'AWS/Events',
            metricName: 'Invocations',
            dimensionsMap: { RuleName: schedule.rule.ref },
            period,
            statistic: cloudwatch.Stats.SUM,
          }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      );
    }
    this.alarms = alarms;
  }
}

/**
 * How long a schedule may stay silent before it counts as stopped: two of its intervals
 * (a rate of N minutes: periods of N minutes, two of them). Cron expressions have no single
 * interval; they get a week (CloudWatch's longest evaluation range for day-long periods).
 */
export function silenceWindow(expression: string): { period: Duration; evaluationPeriods: number } {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!rate) {
    return { period: Duration.days(1), evaluationPeriods: 7 };
  }
  const n = Number(rate[1]);
  const unit = rate[2] ?? 'minutes';
  const seconds = n * (unit.startsWith('minute') ? 60 : unit.startsWith('hour') ? 3600 : 86_400);
  if (seconds <= 86_400) {
    return { period: Duration.seconds(Math.max(seconds, 60)), evaluationPeriods: 2 };
  }
  // Longer than a day: day-long periods, as many as the interval and one more, at most a week.
  return { period: Duration.days(1), evaluationPeriods: Math.min(Math.ceil(seconds / 86_400) + 1, 7) };
}
