import { createHash } from 'node:crypto';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertTopicProps {
  /** The topic's physical name (`patrol-<route id>`, `patrol-operators`). */
  readonly topicName: string;
  /** Shown as the sender of email notifications. */
  readonly displayName: string;
  /**
   * Email addresses to subscribe; each confirms once.
   *
   * @default - none
   */
  readonly email?: readonly string[];
  /**
   * HTTPS endpoints to subscribe.
   *
   * @default - none
   */
  readonly https?: readonly string[];
  /**
   * Let CloudWatch alarms in this account publish (topic policy and KMS key policy).
   *
   * @default false
   */
  readonly allowCloudWatchAlarms?: boolean;
}

/**
 * An SNS topic that alerts are published to: encrypted with its own customer-managed KMS
 * key (rotated yearly), reachable over TLS only, with its email and https subscribers.
 */
export class AlertTopic extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);

    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the Patrol alert topic ${this.node.path}`,
      enableKeyRotation: true,
    });
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: props.topicName,
      displayName: props.displayName,
      masterKey: this.key,
      enforceSSL: true,
    });

    for (const email of props.email ?? []) {
      this.topic.addSubscription(new subs.EmailSubscription(email));
    }
    // A URL cannot be a construct id (it holds '/'); a digest of it is stable across reorders.
    for (const url of props.https ?? []) {
      const digest = createHash('sha256').update(url).digest('hex').slice(0, 12);
      new sns.Subscription(this, `Https-${digest}`, {
        topic: this.topic,
        protocol: sns.SubscriptionProtocol.HTTPS,
        endpoint: url,
      });
    }

    if (props.allowCloudWatchAlarms) {
      this.allowCloudWatchAlarms();
    }
  }

  /**
   * The SSL-only topic policy replaces SNS's default policy, and an encrypted topic needs
   * the key: CloudWatch gets both, limited to alarms of this account.
   */
  private allowCloudWatchAlarms(): void {
    const stack = Stack.of(this);
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const fromThisAccount = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisAccount,
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisAccount,
      }),
    );
  }
}
