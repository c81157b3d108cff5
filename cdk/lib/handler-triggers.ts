import { createHash } from 'node:crypto';
import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { scheduleGroups } from './handler-config';
import type { HandlerFunction } from './handler-function';
import type { Cover, SnsTrigger } from './manifest';
import { feedRuleName, scheduleRuleName } from './names';
import { recordPatrolRules } from './quotas';
import { SnsSubscriptionTrigger } from './sns-trigger';

export interface HandlerTriggersProps {
  readonly fn: HandlerFunction;
  /** The handler's feeds: `covers.feeds[handler]`. */
  readonly feeds: readonly Cover[];
  /** The central bus, where every account's events arrive. */
  readonly bus: events.IEventBus;
}

/** What EventBridge does with an event the function cannot take: retry for 4 hours, then the failure queue. */
const EVENTBRIDGE_RETRY = { maximumRetryAttempts: 185, maximumEventAgeInSeconds: Duration.hours(4).toSeconds() };

/**
 * Everything that invokes one handler function:
 * - one EventBridge rule on the central bus per feed (a covering pattern over some of the
 *   handler's rules, computed by `patrol`); the input names the feed, so the function
 *   evaluates exactly those rules, with Patrol's exact engine;
 * - one scheduled rule per distinct schedule expression, naming its group;
 * - one SNS subscription per topic that some rule listens to;
 * - one function URL for all webhook rules (`<url><rule id>`).
 * Lambda's resource policy holds one statement per kind (rule ARNs by name prefix) and one
 * per topic, so it stays far below its 20 KB limit at any number of rules.
 */
export class HandlerTriggers extends Construct {
  public readonly feedRules: ReadonlyMap<string, events.CfnRule>;
  public readonly scheduleRules: ReadonlyMap<string, { readonly rule: events.CfnRule; readonly expression: string; readonly rules: readonly string[] }>;
  public readonly subscriptions: readonly SnsSubscriptionTrigger[];
  public readonly url?: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: HandlerTriggersProps) {
    super(scope, id);
    const { fn, bus } = props;
    const stack = Stack.of(this);
    const handler = fn.handler;
    const eventsPrincipal = new iam.ServicePrincipal('events.amazonaws.com');
    const target = (input: object): events.CfnRule.TargetProperty => ({
      id: 'Function',
      arn: fn.function.functionArn,
      // `<aws.events.event.json>` is the whole event, as EventBridge would have sent it.
      inputTransformer: { inputTemplate: `${JSON.stringify(input).slice(0, -1)},"event":<aws.events.event.json>}` },
      retryPolicy: EVENTBRIDGE_RETRY,
      deadLetterConfig: { arn: fn.failures.queue.queueArn },
    });

    const feedRules = new Map<string, events.CfnRule>();
    for (const cover of props.feeds) {
      const feed = new events.CfnRule(this, `Feed-${cover.id}`, {
        name: feedRuleName(handler, cover.id),
        eventBusName: bus.eventBusName,
        description: truncate(`Patrol ${handler}: ${cover.rules.join(', ')}`, 512),
        eventPattern: cover.pattern,
        state: cover.include_read_only ? 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' : 'ENABLED',
        targets: [target({ patrol: { feed: cover.id } })],
      });
      recordPatrolRules(feed, cover.rules);
      feedRules.set(cover.id, feed);
    }
    this.feedRules = feedRules;

    const scheduleRules = new Map<string, { rule: events.CfnRule; expression: string; rules: readonly string[] }>();
    for (const group of scheduleGroups(fn.rules)) {
      const rule = new events.CfnRule(this, `Schedule-${group.id}`, {
        name: scheduleRuleName(handler, group.id),
        description: truncate(`Patrol ${handler} ${group.expression}: ${group.rules.join(', ')}`, 512),
        scheduleExpression: group.expression,
        state: 'ENABLED',
        targets: [target({ patrol: { schedule: group.id } })],
      });
      recordPatrolRules(rule, group.rules);
      scheduleRules.set(group.id, { rule, expression: group.expression, rules: group.rules });
    }
    this.scheduleRules = scheduleRules;

    // One permission (and one failure-queue statement) per kind of rule, by name prefix.
    const ruleArns: string[] = [];
    if (feedRules.size > 0) {
      ruleArns.push(
        stack.formatArn({ service: 'events', resource: 'rule', resourceName: `${bus.eventBusName}/${feedRuleName(handler, '*')}` }),
      );
    }
    if (scheduleRules.size > 0) {
      ruleArns.push(stack.formatArn({ service: 'events', resource: 'rule', resourceName: scheduleRuleName(handler, '*') }));
    }
    ruleArns.forEach((arn, i) => {
      fn.function.addPermission(i === 0 && feedRules.size > 0 ? 'InvokeFromFeeds' : 'InvokeFromSchedules', {
        principal: eventsPrincipal,
        sourceArn: arn,
        sourceAccount: stack.account,
      });
    });
    if (ruleArns.length > 0) {
      fn.failures.queue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'UndeliverableEventsFromPatrolRules',
          principals: [eventsPrincipal],
          actions: ['sqs:SendMessage'],
          resources: [fn.failures.queue.queueArn],
          conditions: { ArnLike: { 'aws:SourceArn': ruleArns } },
        }),
      );
    }

    this.subscriptions = snsTopics(fn).map(
      ({ topicArn, trigger }) =>
        new SnsSubscriptionTrigger(this, `Topic-${digest(topicArn)}`, {
          trigger,
          function: fn.function,
          failureQueue: fn.failures.queue,
        }),
    );

    const webhookRules = fn.rules.filter((r) => r.trigger.type === 'webhook');
    if (webhookRules.length > 0 && fn.webhookFunction !== undefined) {
      this.url = fn.webhookFunction.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
      new CfnOutput(this, 'WebhookUrl', {
        value: this.url.url,
        description:
          `Patrol ${handler}: webhook base URL; each webhook rule's URL is this followed by the rule id ` +
          `(${truncate(webhookRules.map((r) => r.id).join(', '), 600)})`,
      });
    }
  }
}

/**
 * The topics the handler's `sns` rules listen to, one subscription each. A topic with one
 * rule keeps that rule's filter policy (SNS filters before invoking); with several, SNS
 * delivers everything and the function applies each rule's policy.
 */
function snsTopics(fn: HandlerFunction): { topicArn: string; trigger: SnsTrigger }[] {
  const byTopic = new Map<string, SnsTrigger[]>();
  for (const rule of fn.rules) {
    if (rule.trigger.type === 'sns') {
      byTopic.set(rule.trigger.topic_arn, [...(byTopic.get(rule.trigger.topic_arn) ?? []), rule.trigger]);
    }
  }
  return [...byTopic.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([topicArn, triggers]) => ({
      topicArn,
      trigger: triggers.length === 1 && triggers[0] ? triggers[0] : { type: 'sns', topic_arn: topicArn },
    }));
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
