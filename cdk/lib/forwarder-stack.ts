import { Aws, Stack, type StackProps, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { AuditRole, type AuditRoleProps, auditHandlers } from './audit-role';
import { CentralBus } from './central-bus';
import { FORWARDER_ROLE_REGION, ForwarderRole, roleRegionFirst } from './forwarder-role';
import { Forwarding } from './forwarding';
import type { Cover, Manifest } from './manifest';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { FORWARDER_ROLE, FORWARDER_STACK } from './names';
import { checkQuotas } from './quotas';

/** Construct ids: `npx cdk deploy 'PatrolCentral*'` deploys these with the central stack. */
export const CENTRAL_FORWARDER_ID_PREFIX = 'PatrolCentral-Forwarder-';
/** Construct ids: `npx cdk deploy 'PatrolOrganization*'` deploys these with the StackSet. */
export const ORGANIZATION_FORWARDER_ID_PREFIX = 'PatrolOrganization-Forwarder-';

export interface PatrolForwarderStackProps extends StackProps {
  /** The manifest's `covers.forwarding`. */
  readonly covers: readonly Cover[];
  /** The central bus (`CentralBus.arn(..., Aws.PARTITION)`). */
  readonly centralBusArn: string;
  /**
   * Forward this region's events. `false` leaves only the role: the central account's
   * us-east-1 stack when the central region is us-east-1 (the central stack forwards that
   * region itself, and the account's other regions need the role).
   *
   * @default true
   */
  readonly forward?: boolean;
  /**
   * Create the account's `patrol-audit` role here (the management account's us-east-1
   * stack, when some rule uses an audit handler).
   *
   * @default - no audit role
   */
  readonly auditRole?: AuditRoleProps;
}

/**
 * `patrol-forwarder`: the member template's content as a plain stack, for one account and
 * region the StackSet does not reach: the management account (StackSets never deploy there)
 * and the central account (excluded from the StackSet). The us-east-1 stack creates the
 * account's `patrol-forwarder` role (a plain resource); the others name it by ARN and are
 * deployed after it.
 */
export class PatrolForwarderStack extends Stack {
  public readonly role: iam.IRole;
  /** Absent for a role-only stack (`forward: false`). */
  public readonly forwarding?: Forwarding;
  public readonly auditRole?: AuditRole;

  constructor(scope: Construct, id: string, props: PatrolForwarderStackProps) {
    const region = props.env?.region;
    if (region === undefined || Token.isUnresolved(region)) {
      throw new Error(`forwarder stack ${id}: needs a concrete env.region (the role is created in us-east-1 only)`);
    }
    const forward = props.forward ?? true;
    super(scope, id, {
      stackName: FORWARDER_STACK,
      description: forward
        ? 'Patrol forwarder: forwards this account\'s security events in this region to the central bus'
        : `Patrol forwarder: the ${FORWARDER_ROLE} role this account's other regions forward with`,
      ...props,
    });

    this.role =
      region === FORWARDER_ROLE_REGION
        ? new ForwarderRole(this, 'Role', { centralBusArn: props.centralBusArn })
        : iam.Role.fromRoleName(this, 'Role', FORWARDER_ROLE, { mutable: false });
    if (props.auditRole !== undefined) {
      if (region !== FORWARDER_ROLE_REGION) {
        throw new Error(`forwarder stack ${id}: the audit role is created in ${FORWARDER_ROLE_REGION} only (IAM is global)`);
      }
      this.auditRole = new AuditRole(this, 'AuditRole', props.auditRole);
    }
    if (forward) {
      this.forwarding = new Forwarding(this, 'Forwarding', {
        covers: props.covers,
        centralBusArn: props.centralBusArn,
        role: this.role,
        heartbeat: true,
      });
    }

    checkQuotas(this);
    acknowledgeNagFindings(this);
  }
}

export interface ForwarderStacks {
  /** `PatrolCentral-Forwarder-<region>`: the central account's regions other than the central region. */
  readonly central: readonly PatrolForwarderStack[];
  /** `PatrolOrganization-Forwarder-<region>`: every deploy region of the management account. */
  readonly management: readonly PatrolForwarderStack[];
}

/**
 * The plain forwarder stacks `manifest` needs, us-east-1 first in each account, every other
 * region's stack depending on its account's us-east-1 stack (which creates the role):
 * - the central account forwards from every deploy region but the central one (the central
 *   stack forwards that one with no role); when the central region is us-east-1, its
 *   us-east-1 stack holds only the role;
 * - the management account forwards from every deploy region, unless it is the central
 *   account (then the central set covers it); its us-east-1 stack also creates its
 *   `patrol-audit` role when some rule uses an audit handler (the central stack creates the
 *   central account's).
 * None without `[deploy]`; no management set without `[deploy.organization]`.
 */
export function forwarderStacks(scope: Construct, manifest: Manifest): ForwarderStacks {
  const deploy = manifest.deploy;
  if (deploy === undefined) {
    return { central: [], management: [] };
  }
  const covers = manifest.covers.forwarding;
  const centralBusArn = CentralBus.arn(deploy.central.account, deploy.central.region, Aws.PARTITION);
  const regions = roleRegionFirst(deploy.regions);

  const central = accountForwarders(scope, {
    idPrefix: CENTRAL_FORWARDER_ID_PREFIX,
    account: deploy.central.account,
    regions: regions.filter((region) => region !== deploy.central.region),
    covers,
    centralBusArn,
  });
  const management = deploy.organization;
  if (management === undefined || management.management_account === deploy.central.account) {
    return { central, management: [] };
  }
  const audits = auditHandlers(manifest);
  return {
    central,
    management: accountForwarders(scope, {
      idPrefix: ORGANIZATION_FORWARDER_ID_PREFIX,
      account: management.management_account,
      regions,
      covers,
      centralBusArn,
      ...(audits.length === 0
        ? {}
        : {
            auditRole: {
              centralAccount: deploy.central.account,
              centralRegion: deploy.central.region,
              handlers: audits,
              organizationId: management.id,
            },
          }),
    }),
  };
}

interface AccountForwarders {
  readonly idPrefix: string;
  readonly account: string;
  /** The regions to forward from. */
  readonly regions: readonly string[];
  readonly covers: readonly Cover[];
  readonly centralBusArn: string;
  /** For the account's us-east-1 stack. @default - no audit role */
  readonly auditRole?: AuditRoleProps;
}

function accountForwarders(scope: Construct, props: AccountForwarders): PatrolForwarderStack[] {
  if (props.regions.length === 0) {
    return [];
  }
  const roleStack = (region: string, forward: boolean): PatrolForwarderStack =>
    new PatrolForwarderStack(scope, `${props.idPrefix}${region}`, {
      env: { account: props.account, region },
      covers: props.covers,
      centralBusArn: props.centralBusArn,
      forward,
      ...(region === FORWARDER_ROLE_REGION && props.auditRole !== undefined ? { auditRole: props.auditRole } : {}),
    });
  const first = roleStack(FORWARDER_ROLE_REGION, props.regions.includes(FORWARDER_ROLE_REGION));
  const others = props.regions
    .filter((region) => region !== FORWARDER_ROLE_REGION)
    .map((region) => {
      const stack = roleStack(region, true);
      stack.addStackDependency(first, `the ${FORWARDER_ROLE} role is created in ${FORWARDER_ROLE_REGION}`);
      return stack;
    });
  return [first, ...others];
}
