import { Annotations, CfnCondition, Fn, Stack, Token, TokenComparison } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { SnsTrigger } from './manifest';

export interface SnsSubscriptionTriggerProps {
  /** The topic (an existing one, maybe in another region or account) and its filter policy. */
  readonly trigger: SnsTrigger;
  /** The handler's function, subscribed to the topic. */
  readonly function: lambda.IFunction;
  /** The handler's failure queue: messages SNS cannot deliver to the function land here. */
  readonly failureQueue: sqs.IQueue;
}

/**
 * Subscribes a rule's function to an existing SNS topic: the subscription (with the rule's
 * filter policy verbatim, like event patterns), SNS's permission to invoke the function, and
 * a redrive policy that keeps messages SNS cannot deliver in the rule's failure queue.
 * Delivered messages are async invocations, so the function's retries and on-failure
 * destination apply as for EventBridge rules.
 */
export class SnsSubscriptionTrigger extends Construct {
  public readonly subscription: sns.CfnSubscription;
  /** The topic's region, from its ARN. */
  public readonly topicRegion: string;

  constructor(scope: Construct, id: string, props: SnsSubscriptionTriggerProps) {
    super(scope, id);
    const { trigger } = props;
    const stack = Stack.of(this);
    this.topicRegion = topicRegion(trigger.topic_arn);
    const snsPrincipal = new iam.ServicePrincipal('sns.amazonaws.com');

    // One permission per subscription; the id keeps several topics of one function apart.
    props.function.addPermission(`InvokeFrom${id}`, { principal: snsPrincipal, sourceArn: trigger.topic_arn });

    // SNS keeps a subscription's dead letters only in a queue of the subscription's own
    // region, which is the topic's; the failure queue lives in the stack's region.
    const redrivePolicy = { deadLetterTargetArn: props.failureQueue.queueArn };
    let redrive: unknown = redrivePolicy;
    const regions = Token.compareStrings(this.topicRegion, stack.region);
    if (regions === TokenComparison.DIFFERENT) {
      redrive = undefined;
      Annotations.of(this).addInfo(
        `${trigger.topic_arn} is in ${this.topicRegion}, not the stack's region: messages SNS cannot deliver ` +
          'to the function are not kept (SNS retries Lambda deliveries for days first); failed invocations still are.',
      );
    } else if (regions !== TokenComparison.SAME) {
      const inTopicRegion = new CfnCondition(this, 'StackInTopicRegion', {
        expression: Fn.conditionEquals(stack.region, this.topicRegion),
      });
      redrive = Fn.conditionIf(inTopicRegion.logicalId, redrivePolicy, Fn.ref('AWS::NoValue'));
    }

    this.subscription = new sns.CfnSubscription(this, 'Subscription', {
      topicArn: trigger.topic_arn,
      protocol: sns.SubscriptionProtocol.LAMBDA,
      endpoint: props.function.functionArn,
      ...(regions === TokenComparison.SAME ? {} : { region: this.topicRegion }),
      ...(trigger.filter_policy === undefined ? {} : { filterPolicy: trigger.filter_policy }),
      ...(trigger.filter_policy_scope === undefined ? {} : { filterPolicyScope: trigger.filter_policy_scope }),
      ...(redrive === undefined ? {} : { redrivePolicy: redrive }),
    });

    if (redrive !== undefined) {
      props.failureQueue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'UndeliverableMessagesFromTopic',
          principals: [snsPrincipal],
          actions: ['sqs:SendMessage'],
          resources: [props.failureQueue.queueArn],
          conditions: { ArnEquals: { 'aws:SourceArn': trigger.topic_arn } },
        }),
      );
    }
  }
}

/** `arn:<partition>:sns:<region>:<account>:<name>` → `<region>`. */
function topicRegion(topicArn: string): string {
  const parts = topicArn.split(':');
  const region = parts[3];
  if (parts.length !== 6 || parts[2] !== 'sns' || !region) {
    // patrol validate rejects this first; reaching it means a stale or hand-written JSON.
    throw new Error(`\`${topicArn}\` is not an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)`);
  }
  return region;
}
