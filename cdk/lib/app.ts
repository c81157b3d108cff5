import { type App, type Environment, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PatrolCentralStack } from './central-stack';
import { loadManifest } from './manifest';
import { readSettings } from './settings';

export interface PatrolAppOptions {
  /**
   * Account and region of the central stack.
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
}

/**
 * Builds Patrol into an app from its `patrol:*` context: loads the manifest, adds the
 * central stack, tags everything and registers the cdk-nag AwsSolutions checks, which run
 * when the app is synthesized. `bin/patrol.ts` and the tests share this wiring.
 */
export function buildPatrolApp(app: App, options: PatrolAppOptions = {}): PatrolCentralStack {
  const settings = readSettings(app.node);
  const manifest = loadManifest(
    settings.manifestPath,
    options.patrolBin === undefined ? {} : { patrolBin: options.patrolBin },
  );
  const stack = new PatrolCentralStack(app, 'PatrolCentral', {
    manifest,
    architecture: settings.architecture,
    cargoProfile: settings.cargoProfile,
    ...(settings.operatorsEmail === undefined ? {} : { operatorsEmail: settings.operatorsEmail }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.lambdasDir === undefined ? {} : { lambdasDir: options.lambdasDir }),
  });
  Tags.of(app).add('patrol:app', 'patrol');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
