/**
 * The member template: what the `patrol-member` StackSet deploys in every account of the
 * organization's target OUs and every deploy region. It is synthesized in an App of its own
 * (with the same cdk-nag checks as the main app) and handed to the StackSet as its
 * TemplateBody, so it must be self-contained: no assets, no bootstrap, no Lambda code.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Aws, BootstraplessSynthesizer, CfnCondition, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { AuditRole, type AuditRoleProps, auditHandlers } from './audit-role';
import { CentralBus } from './central-bus';
import { FORWARDER_ROLE_REGION, ForwarderRole, forwarderRoleArn } from './forwarder-role';
import { Forwarding } from './forwarding';
import type { Cover, Manifest } from './manifest';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { MEMBER_STACKSET } from './names';
import { checkQuotas } from './quotas';

/** CloudFormation's limit on an inline TemplateBody (CreateStackSet, AWS::CloudFormation::StackSet). */
export const TEMPLATE_BODY_LIMIT_BYTES = 51_200;
/** CloudFormation's limit for a template read from S3 (`TemplateURL`). */
export const TEMPLATE_URL_LIMIT_BYTES = 1_000_000;

/** The file `memberTemplateBody` writes when given an `outdir`. */
export const MEMBER_TEMPLATE_FILE = 'patrol-member.template.json';

/** The member template's condition: this stack instance is in us-east-1, where IAM lives. */
export const ROLE_REGION_CONDITION = 'IsUsEast1';

export interface MemberStackProps {
  /** The manifest's `covers.forwarding`. */
  readonly covers: readonly Cover[];
  /** The central bus (`CentralBus.arn(..., Aws.PARTITION)`). */
  readonly centralBusArn: string;
  /**
   * The `patrol-audit` role audit handlers read the account through (when some rule uses an
   * audit handler).
   *
   * @default - no audit role
   */
  readonly auditRole?: AuditRoleProps;
}

/**
 * One stack instance per member account and region: the forwarding rules, the heartbeat and
 * their dead-letter queue; with audit rules, the read-only `patrol-audit` role. The
 * `patrol-forwarder` and `patrol-audit` roles are created only by the us-east-1
 * instance (a CloudFormation Condition on the role; IAM is global, so a second region would
 * collide on the name); every other region names it by its deterministic ARN, and the
 * StackSet deploys us-east-1 first so the role exists before they need it.
 *
 * Environment-agnostic and bootstrap-free (`BootstraplessSynthesizer`: no bootstrap version
 * parameter, which member accounts could not resolve), with no CDK metadata resource.
 */
export class MemberStack extends Stack {
  public readonly role: ForwarderRole;
  public readonly forwarding: Forwarding;
  public readonly auditRole?: AuditRole;

  constructor(scope: Construct, id: string, props: MemberStackProps) {
    super(scope, id, {
      description: `Patrol member: forwards this account's security events to the central bus (StackSet ${MEMBER_STACKSET})`,
      synthesizer: new BootstraplessSynthesizer(),
      analyticsReporting: false,
    });

    const inRoleRegion = new CfnCondition(this, ROLE_REGION_CONDITION, {
      expression: Fn.conditionEquals(Aws.REGION, FORWARDER_ROLE_REGION),
    });
    this.role = new ForwarderRole(this, 'Role', { centralBusArn: props.centralBusArn });
    this.role.cfnRole.cfnOptions.condition = inRoleRegion;
    // In us-east-1 the reference also orders the rules after the role; elsewhere it is a name.
    const roleArn = Fn.conditionIf(inRoleRegion.logicalId, this.role.roleArn, forwarderRoleArn()).toString();

    this.forwarding = new Forwarding(this, 'Forwarding', {
      covers: props.covers,
      centralBusArn: props.centralBusArn,
      role: iam.Role.fromRoleArn(this, 'RoleInAnyRegion', roleArn, { mutable: false }),
      heartbeat: true,
    });
    if (props.auditRole !== undefined) {
      this.auditRole = new AuditRole(this, 'AuditRole', props.auditRole);
      this.auditRole.cfnRole.cfnOptions.condition = inRoleRegion;
    }

    checkQuotas(this);
    acknowledgeNagFindings(this);
  }
}

export interface MemberTemplateOptions {
  /**
   * Also write the template to this directory as `patrol-member.template.json` (the main
   * app's outdir, so cfn-lint checks it with the other templates).
   *
   * @default - not written
   */
  readonly outdir?: string;
  /**
   * Context of the App the template is built in: pass the main app's
   * (`scope.node.getAllContext()`) so the same feature flags apply.
   *
   * @default - none beyond what the CDK CLI sets in the environment
   */
  readonly context?: { readonly [key: string]: unknown };
}

/**
 * Builds the member template for `manifest` in a separate App, runs cdk-nag's AwsSolutions
 * checks on it (an unacknowledged finding fails, as in the main app) and returns it as compact
 * JSON. Fails when the manifest has no `[deploy]` or the template exceeds what CloudFormation
 * reads from S3 (1 MB); whether it fits a TemplateBody (51,200 bytes) is the caller's choice.
 */
export function memberTemplateBody(manifest: Manifest, options: MemberTemplateOptions = {}): string {
  const deploy = manifest.deploy;
  if (deploy === undefined) {
    throw new Error(
      `${manifest.source}: the member template needs the central account and region from [deploy]; ` +
        'add a [deploy] table to deploy Patrol to an organization',
    );
  }
  const centralBusArn = CentralBus.arn(deploy.central.account, deploy.central.region, Aws.PARTITION);
  const covers = manifest.covers.forwarding;

  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'patrol-member-'));
  try {
    const app = new App({
      outdir,
      autoSynth: false,
      treeMetadata: false,
      context: { ...options.context },
      // Over what the CLI passes in: construct paths, stack traces and version reporting would
      // only add bytes to a template that must stay under 51,200 of them.
      postCliContext: {
        'aws:cdk:enable-path-metadata': false,
        'aws:cdk:disable-stack-trace': true,
        'aws:cdk:version-reporting': false,
      },
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
    const audits = auditHandlers(manifest);
    const organizationId = deploy.organization?.id;
    const auditRole: AuditRoleProps | undefined =
      audits.length === 0
        ? undefined
        : {
            centralAccount: deploy.central.account,
            centralRegion: deploy.central.region,
            handlers: audits,
            ...(organizationId === undefined ? {} : { organizationId }),
          };
    const stack = new MemberStack(app, 'PatrolMember', {
      covers,
      centralBusArn,
      ...(auditRole === undefined ? {} : { auditRole }),
    });

    let template: unknown;
    try {
      template = app.synth().getStackArtifact(stack.artifactId).template;
    } catch (e) {
      throw new Error(`the member template (StackSet ${MEMBER_STACKSET}) failed its checks: ${(e as Error).message}`);
    }
    const body = JSON.stringify(template);
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > TEMPLATE_URL_LIMIT_BYTES) {
      const rules = covers.reduce((n, cover) => n + cover.rules.length, 0);
      throw new Error(
        `the member template (StackSet ${MEMBER_STACKSET}) is ${bytes} bytes; CloudFormation takes at most ` +
          `${TEMPLATE_URL_LIMIT_BYTES.toLocaleString('en-US')} from S3. It forwards ${covers.length} covers of ${rules} event rules ` +
          `(${manifest.source}): forward fewer event rules (or rules whose patterns share their event sources, so ` +
          'they fall into fewer and smaller covers)',
      );
    }
    if (options.outdir !== undefined) {
      fs.mkdirSync(options.outdir, { recursive: true });
      fs.writeFileSync(path.join(options.outdir, MEMBER_TEMPLATE_FILE), body);
    }
    return body;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
