/**
 * Every cdk-nag finding Patrol acknowledges, with the reason, in one place. Each entry names
 * the finding id (`Rule` or `Rule[Finding]`) and the constructs it applies to; anything not
 * listed here must be fixed, not acknowledged. The one exception is generated, not listed:
 * the wildcard resources of the IAM statements handlers declare in their handler.toml, each
 * acknowledged on its own policy with the declaration's `why` (`declared-permissions.ts`).
 */
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { FailureQueue } from './failure-queue';
import { isForwardingDeadLetterQueue } from './forwarding';
import { HandlerFunction } from './handler-function';

export interface NagAcknowledgement {
  /** cdk-nag finding id, e.g. `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  readonly reason: string;
  /** The constructs (and everything below them) the acknowledgement covers. */
  readonly appliesTo: (construct: IConstruct) => boolean;
}

export const NAG_ACKNOWLEDGEMENTS: readonly NagAcknowledgement[] = [
  {
    id: 'AwsSolutions-SQS3',
    reason:
      'The forwarding dead-letter queue (Forwarding/DeadLetters, one per forwarding account and region) IS the ' +
      'EventBridge dead-letter queue of the patrol-forward-* rules: it keeps the events the central bus refused ' +
      'or did not accept within 24 hours, for inspection and redrive; nothing consumes it, so it needs no DLQ of its own.',
    appliesTo: isForwardingDeadLetterQueue,
  },
  {
    id: 'AwsSolutions-SQS3',
    reason:
      'A failure queue IS the dead-letter queue (EventBridge target DLQ, SNS subscription redrive target, ' +
      'Lambda on-failure destination, webhook handler failures); ' +
      'nothing consumes it, an alarm watches it, so it needs no DLQ of its own.',
    appliesTo: (c) => c instanceof FailureQueue,
  },
  {
    id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    reason:
      'Added by topic.grantPublish for the alert topic\'s own KMS key only (resource is that key\'s ARN); ' +
      'SNS server-side encryption needs GenerateDataKey and GenerateDataKeyWithoutPlaintext.',
    appliesTo: (c) => c instanceof HandlerFunction,
  },
];

/** Records each acknowledgement on the constructs it applies to (cdk-nag 3 reads them). */
export function acknowledgeNagFindings(scope: IConstruct): void {
  for (const construct of scope.node.findAll()) {
    for (const ack of NAG_ACKNOWLEDGEMENTS) {
      if (ack.appliesTo(construct)) {
        Validations.of(construct).acknowledge({ id: ack.id, reason: ack.reason });
      }
    }
  }
}

/** One line for people: the cdk-nag AwsSolutions result for everything under `scope`. */
export function nagResult(scope: IConstruct): string {
  const report = new AwsSolutionsChecks().validateScope(scope);
  const findings = report.violations.reduce((n, v) => n + v.violatingResources.length, 0);
  let acknowledged = 0;
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
        acknowledged += Object.keys(entry.data as object).length;
      }
    }
  }
  return (
    `cdk-nag AwsSolutions: ${findings} unacknowledged finding(s); ` +
    `${acknowledged} acknowledgement(s), each with its reason in cdk/lib/nag-acknowledgements.ts`
  );
}
