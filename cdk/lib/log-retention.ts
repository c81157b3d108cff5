import type { IAspect } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';

/**
 * Every log group under the scope keeps its events for the same time: one policy for the
 * whole app instead of a setting on each function.
 */
export class LogRetention implements IAspect {
  constructor(private readonly retention: logs.RetentionDays) {}

  public visit(node: IConstruct): void {
    if (node instanceof logs.CfnLogGroup) {
      node.retentionInDays = this.retention;
    }
  }
}
