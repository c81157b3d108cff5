import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { FORWARDER_ROLE } from './names';

/** IAM is global: an account has one forwarder role, created by its us-east-1 stack. */
export const FORWARDER_ROLE_REGION = 'us-east-1';

/** Regions in deployment order: us-east-1 (where the role is created) first, then the others in order. */
export function roleRegionFirst(regions: readonly string[]): string[] {
  return [FORWARDER_ROLE_REGION, ...regions.filter((region) => region !== FORWARDER_ROLE_REGION)];
}

/**
 * The ARN every region of this account uses to reach the forwarder role: deterministic, so
 * a region other than us-east-1 needs no reference to the stack that created it.
 */
export function forwarderRoleArn(): string {
  return `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${FORWARDER_ROLE}`;
}

export interface ForwarderRoleProps {
  /** The only resource the role may put events on. */
  readonly centralBusArn: string;
}

/**
 * `patrol-forwarder`: the role EventBridge assumes to put this account's events on the
 * central bus. Needed for every target in another account or region (and whenever the bus
 * admits senders with `aws:PrincipalOrgID`). Only EventBridge acting for this account may
 * assume it (`aws:SourceAccount`), and it may do exactly one thing: `events:PutEvents` on
 * the central bus. The policy is inline so the role is one resource, which the member
 * template can create conditionally.
 */
export class ForwarderRole extends iam.Role {
  constructor(scope: Construct, id: string, props: ForwarderRoleProps) {
    super(scope, id, {
      roleName: FORWARDER_ROLE,
      description: 'Patrol: EventBridge puts this account\'s security events on the central bus',
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      inlinePolicies: {
        'put-events-on-central-bus': new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['events:PutEvents'],
              resources: [props.centralBusArn],
            }),
          ],
        }),
      },
    });
  }

  /** The `AWS::IAM::Role` resource (the member template puts a Condition on it). */
  public get cfnRole(): iam.CfnRole {
    return this.node.defaultChild as iam.CfnRole;
  }
}
