import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The partition key (a string); what goes in it is the Rust side's business. */
export const DEDUP_PARTITION_KEY = 'pk';
/** Epoch seconds after which DynamoDB deletes the entry, ending its window. */
export const DEDUP_TTL_ATTRIBUTE = 'expires_at';

/**
 * The one table, shared by every rule with `dedup`, that remembers which alerts were sent
 * within their window. On-demand (alerts are rare and bursty), encrypted with the
 * AWS-managed key (so DynamoDB item grants are all a function needs), with
 * point-in-time recovery, and retained when the stack is deleted or the table replaced:
 * it records which alerts were held back, which an investigation may need.
 */
export class DedupTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: DEDUP_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: DEDUP_TTL_ATTRIBUTE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * A conditional put claims a window (it fails while another alert's claim is delivered
   * or in flight); a conditional update marks the claim delivered once the alert is sent;
   * a conditional delete releases it when delivery fails. Those three actions are all a
   * function gets.
   */
  public grantWindowAccess(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.table.tableArn],
      }),
    );
  }
}
