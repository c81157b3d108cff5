#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth` from the repository root (see cdk.json).
 *
 * Context: `patrol:manifest` (default `<repo>/rules.toml`), `patrol:architecture`
 * (`arm64` | `x86_64`), `patrol:cargoProfile` (`release` | `lambda-dev`),
 * `patrol:operatorsEmail`, `patrol:skipBundling` (`true`: templates only). Env: `PATROL_BIN`.
 */
import { App } from 'aws-cdk-lib';
import { buildPatrolApp } from '../lib/app';
import { nagResult } from '../lib/nag-acknowledgements';
import { CONTEXT_SKIP_BUNDLING } from '../lib/settings';

const app = new App();
// `make synth BUNDLING=0`: templates for any manifest in seconds, functions not built. (The
// CLI refuses `-c aws:cdk:bundling-stacks=[]`, so this key stands in for it.)
if (app.node.tryGetContext(CONTEXT_SKIP_BUNDLING) === true || app.node.tryGetContext(CONTEXT_SKIP_BUNDLING) === 'true') {
  app.node.setContext('aws:cdk:bundling-stacks', []);
}
const region = process.env.CDK_DEFAULT_REGION;
const account = process.env.CDK_DEFAULT_ACCOUNT;
buildPatrolApp(app, {
  env: {
    ...(account === undefined ? {} : { account }),
    ...(region === undefined ? {} : { region }),
  },
});
// Synthesis runs the cdk-nag plugin and fails on any unacknowledged finding; CDK prints
// nothing when all is well, so say it (stderr: stdout belongs to the CDK CLI).
app.synth();
console.error(nagResult(app));
