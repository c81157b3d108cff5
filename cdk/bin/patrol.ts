#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth` from the repository root (see cdk.json).
 *
 * Context: `patrol:manifest` (default `<repo>/rules.toml`), `patrol:architecture`
 * (`arm64` | `x86_64`), `patrol:cargoProfile` (`release` | `lambda-dev`),
 * `patrol:operatorsEmail`, `patrol:skipBundling` (`true`: templates only),
 * `patrol:allowExampleIds` (`true`: synthesize a `[deploy]` that still holds AWS's example
 * ids even with credentials at hand), `patrol:stackSetCallAs` (`SELF` | `DELEGATED_ADMIN`).
 * Env: `PATROL_BIN`.
 */
import { App } from 'aws-cdk-lib';
import { buildPatrolApp } from '../lib/app';
import { nagResult } from '../lib/nag-acknowledgements';
import { CONTEXT_ALLOW_EXAMPLE_IDS, CONTEXT_SKIP_BUNDLING, contextFlag } from '../lib/settings';

const app = new App();
// `make synth BUNDLING=0`: templates for any manifest in seconds, functions not built. (The
// CLI refuses `-c aws:cdk:bundling-stacks=[]`, so this key stands in for it.)
if (contextFlag(app.node, CONTEXT_SKIP_BUNDLING)) {
  app.node.setContext('aws:cdk:bundling-stacks', []);
}
const region = process.env.CDK_DEFAULT_REGION;
const account = process.env.CDK_DEFAULT_ACCOUNT;
const patrol = buildPatrolApp(app, {
  env: {
    ...(account === undefined ? {} : { account }),
    ...(region === undefined ? {} : { region }),
  },
  memberTemplateOutdir: app.outdir,
});

// The CDK CLI sets CDK_DEFAULT_ACCOUNT only when it holds credentials, which a deploy needs;
// an offline synth (make demo, make synth) has none.
const exampleIds = patrol.manifest.deploy?.example_ids ?? [];
if (exampleIds.length > 0 && account !== undefined && !contextFlag(app.node, CONTEXT_ALLOW_EXAMPLE_IDS)) {
  console.error(
    `Refusing to deploy: ${patrol.manifest.source} [deploy] still holds AWS's documented example ids ` +
      `(${exampleIds.join(', ')}). Replace them with your organization's account, organization and OU ids ` +
      `(\`patrol validate\` points at each), or pass -c ${CONTEXT_ALLOW_EXAMPLE_IDS}=true to only synthesize.`,
  );
  process.exit(1);
}

// Synthesis runs the cdk-nag plugin and fails on any unacknowledged finding; CDK prints
// nothing when all is well, so say it (stderr: stdout belongs to the CDK CLI).
app.synth();
console.error(nagResult(app));
