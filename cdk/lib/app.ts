import { type App, type Environment, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PatrolCentralStack } from './central-stack';
import { type ForwarderStacks, forwarderStacks } from './forwarder-stack';
import { loadManifest, type Manifest } from './manifest';
import { PatrolOrganizationStack } from './organization-stack';
import { readSettings } from './settings';

export interface PatrolAppOptions {
  /**
   * Account and region of the central stack when the manifest has no `[deploy]` (which
   * otherwise decides them).
   *
   * @default - environment-agnostic
   */
  readonly env?: Environment;
  /**
   * The `patrol` binary that normalizes `rules.toml`.
   *
   * @default - env `PATROL_BIN`, else `<repo>/target/debug/patrol`
   */
  readonly patrolBin?: string;
  /**
   * Folder holding one crate per handler.
   *
   * @default - `<repo>/lambdas`
   */
  readonly lambdasDir?: string;
  /**
   * Where the member template is written for cfn-lint (`patrol-member.template.json`).
   *
   * @default - not written
   */
  readonly memberTemplateOutdir?: string;
}

/** Every stack of the app. */
export interface PatrolApp {
  readonly manifest: Manifest;
  /** `PatrolCentral`: deployed with the central account's credentials. */
  readonly central: PatrolCentralStack;
  /** `PatrolOrganization`: the member StackSet; present with `[deploy.organization]`. */
  readonly organization?: PatrolOrganizationStack;
  /** `PatrolCentral-Forwarder-*` and `PatrolOrganization-Forwarder-*`. */
  readonly forwarders: ForwarderStacks;
}

/**
 * Builds Patrol into an app from its `patrol:*` context: loads the manifest, adds the
 * central stack, and with `[deploy]` the organization's StackSet and the plain forwarder
 * stacks of the central and management accounts; tags everything, and registers the cdk-nag AwsSolutions checks, which run when the app is synthesized.
 * `bin/patrol.ts` and the tests share this wiring.
 */
export function buildPatrolApp(app: App, options: PatrolAppOptions = {}): PatrolApp {
  const settings = readSettings(app.node);
  const manifest = loadManifest(
    settings.manifestPath,
    options.patrolBin === undefined ? {} : { patrolBin: options.patrolBin },
  );
  const deploy = manifest.deploy;
  const centralEnv = deploy === undefined ? options.env : { account: deploy.central.account, region: deploy.central.region };
  const central = new PatrolCentralStack(app, 'PatrolCentral', {
    manifest,
    architecture: settings.architecture,
    cargoProfile: settings.cargoProfile,
    ...(settings.operatorsEmail === undefined ? {} : { operatorsEmail: settings.operatorsEmail }),
    ...(settings.webhookConcurrency === undefined ? {} : { webhookConcurrency: settings.webhookConcurrency }),
    ...(centralEnv === undefined ? {} : { env: centralEnv }),
    ...(options.lambdasDir === undefined ? {} : { lambdasDir: options.lambdasDir }),
  });

  const forwarders = forwarderStacks(app, manifest);
  // The central bus must exist before anything forwards to it.
  for (const stack of forwarders.central) {
    stack.addStackDependency(central, 'the central bus must exist before anything forwards to it');
  }
  let organization: PatrolOrganizationStack | undefined;
  if (deploy?.organization !== undefined) {
    organization = new PatrolOrganizationStack(app, 'PatrolOrganization', {
      manifest,
      env: { account: deploy.organization.management_account, region: deploy.central.region },
      ...(options.memberTemplateOutdir === undefined ? {} : { memberTemplateOutdir: options.memberTemplateOutdir }),
    });
  }

  Tags.of(app).add('patrol:app', 'patrol');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { manifest, central, ...(organization === undefined ? {} : { organization }), forwarders };
}
