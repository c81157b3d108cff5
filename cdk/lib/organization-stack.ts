import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Annotations, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudformation from 'aws-cdk-lib/aws-cloudformation';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { roleRegionFirst } from './forwarder-role';
import type { Deploy, Manifest, Organization } from './manifest';
import { MEMBER_TEMPLATE_FILE, memberTemplateBody, TEMPLATE_BODY_LIMIT_BYTES } from './member-stack';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { MEMBER_STACKSET, ORGANIZATION_STACK } from './names';

/**
 * Context key: `SELF` (default: deployed with the management account's credentials) or
 * `DELEGATED_ADMIN` (deployed from a CloudFormation delegated administrator account).
 */
export const CONTEXT_STACKSET_CALL_AS = 'patrol:stackSetCallAs';

export type StackSetCallAs = 'SELF' | 'DELEGATED_ADMIN';
const CALL_AS: readonly StackSetCallAs[] = ['SELF', 'DELEGATED_ADMIN'];

/**
 * How a StackSet operation rolls out, per region (regions one after the other):
 * - at most 25% of the accounts at once, SOFT_FAILURE_TOLERANCE so that this stays 25%
 *   (STRICT would cap it at the failure tolerance + 1 accounts, i.e. one account at a time
 *   in an organization of fewer than 20): the template is small and the same everywhere,
 *   so a systemic error shows in the first batch, and a failed create rolls back cleanly;
 * - stop the region, and with it every later region, once more than 10% of its accounts
 *   failed (rounded down: in an organization of fewer than 10 accounts, at the first
 *   failure). A few odd accounts (suspended, an SCP) do not block the rest of a large
 *   organization; a broken template never gets past us-east-1, so no region ever forwards
 *   without the role the us-east-1 instance creates.
 */
export const MAX_CONCURRENT_PERCENTAGE = 25;
export const FAILURE_TOLERANCE_PERCENTAGE = 10;

export interface PatrolOrganizationStackProps extends StackProps {
  /** The normalized manifest; needs `deploy.organization`. */
  readonly manifest: Manifest;
  /**
   * Whether the StackSet is managed from the management account or a delegated
   * administrator account.
   *
   * @default - context `patrol:stackSetCallAs`, else 'SELF'
   */
  readonly callAs?: StackSetCallAs;
  /**
   * Also write the member template there (`patrol-member.template.json`), for cfn-lint.
   *
   * @default - not written
   */
  readonly memberTemplateOutdir?: string;
}

/**
 * `patrol-organization`, deployed with the management account's (or a delegated
 * administrator's) credentials: the service-managed StackSet `patrol-member` that puts the
 * member template (forwarding rules, heartbeat, the us-east-1 role) in every account of the
 * target OUs and every deploy region, and in every account that joins them later.
 */
export class PatrolOrganizationStack extends Stack {
  public readonly stackSet: cloudformation.CfnStackSet;
  /** The member template (compact JSON). */
  public readonly templateBody: string;
  /**
   * Where the StackSet reads the template from when it exceeds the 51,200-byte TemplateBody
   * limit: an asset in this account's CDK bootstrap bucket (TemplateURL, up to 1 MB).
   */
  public readonly templateAsset?: s3assets.Asset;

  constructor(scope: Construct, id: string, props: PatrolOrganizationStackProps) {
    super(scope, id, {
      stackName: ORGANIZATION_STACK,
      description: `Patrol organization: the ${MEMBER_STACKSET} StackSet that forwards every member account's events`,
      ...props,
    });
    const { manifest } = props;
    const deploy = manifest.deploy;
    const organization = deploy?.organization;
    if (deploy === undefined || organization === undefined) {
      throw new Error(
        `${manifest.source}: the organization stack needs [deploy.organization] (id, management_account, targets)`,
      );
    }
    const callAs = props.callAs ?? readCallAs(this);

    this.templateBody = memberTemplateBody(manifest, {
      context: this.node.getAllContext() as { [key: string]: unknown },
      ...(props.memberTemplateOutdir === undefined ? {} : { outdir: props.memberTemplateOutdir }),
    });
    const regions = roleRegionFirst(deploy.regions);

    this.stackSet = new cloudformation.CfnStackSet(this, 'MemberStackSet', {
      stackSetName: MEMBER_STACKSET,
      description: 'Patrol member: forwards each account\'s security events to the central bus',
      permissionModel: 'SERVICE_MANAGED',
      callAs,
      // Accounts that join a target OU get the stacks; accounts that leave lose them (and
      // with them the rules, role and queue: nothing of Patrol stays behind).
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      // The role has a name (patrol-forwarder).
      capabilities: ['CAPABILITY_NAMED_IAM'],
      // Queue operations that conflict (an update while auto-deployment runs) instead of failing them.
      managedExecution: { Active: true },
      operationPreferences: {
        regionConcurrencyType: 'SEQUENTIAL',
        regionOrder: regions,
        maxConcurrentPercentage: MAX_CONCURRENT_PERCENTAGE,
        failureTolerancePercentage: FAILURE_TOLERANCE_PERCENTAGE,
        concurrencyMode: 'SOFT_FAILURE_TOLERANCE',
      },
      stackInstancesGroup: [{ deploymentTargets: deploymentTargets(deploy, organization), regions }],
      ...this.templateSource(),
    });

    acknowledgeNagFindings(this);
  }

  /**
   * Inline when the template fits a TemplateBody; otherwise from S3. Large rulesets (about
   * 500 event rules and more) give the member template more forwarding rules than 51,200
   * bytes hold; CloudFormation reads up to 1 MB from a TemplateURL, which the CDK uploads to
   * the bootstrap bucket of the account deploying this stack (`cdk bootstrap` there first).
   */
  private templateSource(): Pick<cloudformation.CfnStackSetProps, 'templateBody' | 'templateUrl'> {
    const bytes = Buffer.byteLength(this.templateBody, 'utf8');
    if (bytes <= TEMPLATE_BODY_LIMIT_BYTES) {
      return { templateBody: this.templateBody };
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patrol-member-asset-'));
    const file = path.join(dir, MEMBER_TEMPLATE_FILE);
    fs.writeFileSync(file, this.templateBody);
    const asset = new s3assets.Asset(this, 'MemberTemplate', { path: file });
    (this as { templateAsset?: s3assets.Asset }).templateAsset = asset;
    Annotations.of(this).addInfo(
      `the member template is ${bytes} bytes, over the ${TEMPLATE_BODY_LIMIT_BYTES}-byte TemplateBody limit: ` +
        'the StackSet reads it from the CDK bootstrap bucket (TemplateURL)',
    );
    return { templateUrl: asset.httpUrl };
  }
}

/**
 * The target OUs, minus the central account, which gets its own forwarders (the central
 * stack in its region, `PatrolCentral-Forwarder-<region>` in the others); a member stack
 * instance there would collide with them on the role and rule names.
 *
 * What the AWS documentation says:
 * - AWS::CloudFormation::StackSet DeploymentTargets: with SERVICE_MANAGED, OrganizationalUnitIds
 *   is required, and `Accounts` next to OUs needs `AccountFilterType`; DIFFERENCE "deploys to
 *   the OU, excluding the accounts specified in the Accounts property"; only UNION is refused
 *   for create operations of the resource. (CloudFormation User Guide,
 *   aws-properties-cloudformation-stackset-deploymenttargets.html; account-level-targets.html.)
 * - StackSets never deploy to the management account, even inside a target OU
 *   (API Reference, DeploymentTargets): no filter is needed when the central account is the
 *   management account, and none is added.
 * - "Automatic deployments do not consider account level targeting filters"
 *   (User Guide, stacksets-orgs-manage-auto-deployment.html, Considerations). So the filter
 *   holds for the accounts in the OUs when the StackSet is created or updated, but if the
 *   central account is later moved into (or between) target OUs, auto-deployment creates a
 *   member instance there anyway. That instance fails on the existing patrol-forwarder role
 *   (us-east-1) and `patrol-forward-*` rule names and counts against the failure tolerance;
 *   the central account's own forwarders keep working. Fix: keep the central account out of
 *   the target OUs, or delete its stack instances (`aws cloudformation
 *   delete-stack-instances --stack-set-name patrol-member --deployment-targets
 *   OrganizationalUnitIds=<ou>,Accounts=<central>,AccountFilterType=INTERSECTION ...`).
 */
function deploymentTargets(
  deploy: Deploy,
  organization: Organization,
): cloudformation.CfnStackSet.DeploymentTargetsProperty {
  const organizationalUnitIds = [...organization.targets];
  if (deploy.central.account === organization.management_account) {
    return { organizationalUnitIds };
  }
  return { organizationalUnitIds, accountFilterType: 'DIFFERENCE', accounts: [deploy.central.account] };
}

function readCallAs(scope: Construct): StackSetCallAs {
  const value: unknown = scope.node.tryGetContext(CONTEXT_STACKSET_CALL_AS);
  if (value === undefined || value === null || value === '') {
    return 'SELF';
  }
  const callAs = CALL_AS.find((c) => c === value);
  if (callAs === undefined) {
    throw new Error(
      `context ${CONTEXT_STACKSET_CALL_AS}=${JSON.stringify(value)} is not supported; use one of: ${CALL_AS.join(', ')}`,
    );
  }
  return callAs;
}
