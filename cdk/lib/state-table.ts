import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { STATE_TABLE } from './names';

/** The partition key (a string); what goes in it is the Rust side's business. */
export const STATE_PARTITION_KEY = 'pk';
/** Epoch seconds after which DynamoDB deletes the item. */
export const STATE_TTL_ATTRIBUTE = 'expires_at';

/**
 * The one table every handler function shares: the delivery ledger (which route already
 * accepted which rule's alert for which event, so a retried event never pages twice) and
 * the dedup windows of rules with `dedup`. On-demand (alerts are rare and bursty),
 * encrypted with the AWS-managed key (so DynamoDB item grants are all a function needs),
 * with point-in-time recovery, and retained when the stack is deleted: it records which
 * alerts were sent and which were held back, which an investigation may need.
 */
export class StateTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: STATE_TABLE,
      partitionKey: { name: STATE_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: STATE_TTL_ATTRIBUTE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * Ledger: a consistent read before sending, a put after. Dedup: a conditional put claims
   * a window, a conditional update marks it delivered, a conditional delete releases it.
   * Those four item actions are all a function gets.
   */
  public grantItemAccess(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.table.tableArn],
      }),
    );
  }
}
