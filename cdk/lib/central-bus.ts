import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { Organization } from './manifest';
import { CENTRAL_BUS } from './names';

export interface CentralBusProps {
  /** When set, every account of the organization may put events on the bus. */
  readonly organization?: Organization;
}

/**
 * The custom event bus every account and region forwards its events to, where the handler
 * functions' feeds evaluate them. Its policy admits `events:PutEvents` from the whole
 * organization in one statement (`aws:PrincipalOrgID`), so an account that joins the
 * organization can forward without a change here; the senders' rules assume their own
 * `patrol-forwarder` role to do it. Without an organization only this account sends, which
 * needs no policy.
 */
export class CentralBus extends Construct {
  public readonly bus: events.EventBus;

  constructor(scope: Construct, id: string, props: CentralBusProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: CENTRAL_BUS,
      description: 'Patrol: the events of every account and region that some Patrol rule can match',
    });
    if (props.organization !== undefined) {
      this.bus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'PatrolOrganizationPutEvents',
          principals: [new iam.AnyPrincipal()],
          actions: ['events:PutEvents'],
          resources: [this.bus.eventBusArn],
          conditions: { StringEquals: { 'aws:PrincipalOrgID': props.organization.id } },
        }),
      );
    }
  }

  /** The bus's ARN as other accounts and regions name it (no tokens from this stack). */
  public static arn(account: string, region: string, partition = 'aws'): string {
    return `arn:${partition}:events:${region}:${account}:event-bus/${CENTRAL_BUS}`;
  }

  /** The same, for an environment-agnostic stack. */
  public static arnIn(stack: Stack): string {
    return stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: CENTRAL_BUS });
  }
}
