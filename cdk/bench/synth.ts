/**
 * `make bench-synth`: how the app scales with the number of rules. For 30, 300 and 1,000
 * generated rules (cdk/test/generated-manifest.ts; bundling skipped), it times the patrol
 * normalization and the synthesis of every stack, and reports the largest template's size
 * and resource count, the EventBridge rules on the central bus and the member template's
 * size. Each size is synthesized 3 times; the median time is reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { buildPatrolApp } from '../lib/app';
import { DEFAULT_PATROL_BIN, REPO_ROOT } from '../lib/paths';
import { CONTEXT_MANIFEST } from '../lib/settings';
import { generatedRules, writeGeneratedManifest } from '../test/generated-manifest';

const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
const RUNS = 3;

interface Result {
  readonly ms: number;
  readonly stacks: number;
  readonly largest: { readonly name: string; readonly bytes: number; readonly resources: number };
  readonly centralBusRules: number;
  readonly memberBytes: number;
  readonly rules: number;
}

function synthOnce(manifest: string): Result {
  const started = process.hrtime.bigint();
  const app = new App({
    context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], [CONTEXT_MANIFEST]: manifest },
  });
  const patrol = buildPatrolApp(app, { patrolBin: process.env.PATROL_BIN ?? DEFAULT_PATROL_BIN });
  const assembly = app.synth();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const stacks: Stack[] = [patrol.central, ...patrol.forwarders.central, ...patrol.forwarders.management];
  if (patrol.organization) {
    stacks.push(patrol.organization);
  }
  let largest = { name: '', bytes: 0, resources: 0 };
  let centralBusRules = 0;
  for (const stack of stacks) {
    const template = assembly.getStackArtifact(stack.artifactId).template as {
      Resources: Record<string, { Type: string; Properties?: { EventBusName?: unknown } }>;
    };
    const bytes = JSON.stringify(template).length;
    const resources = Object.keys(template.Resources).length;
    if (bytes > largest.bytes) {
      largest = { name: stack.stackName, bytes, resources };
    }
    if (stack === patrol.central) {
      centralBusRules = Object.values(template.Resources).filter(
        (r) => r.Type === 'AWS::Events::Rule' && r.Properties?.EventBusName !== undefined,
      ).length;
    }
  }
  return {
    ms,
    stacks: stacks.length + (patrol.organization ? 1 : 0),
    largest,
    centralBusRules,
    memberBytes: patrol.organization?.templateBody.length ?? 0,
    rules: patrol.manifest.rules.length,
  };
}

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
console.log('| rules | synth (median of 3) | stacks + member template | largest template | its resources | rules on the central bus | member template |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const n of sizes.length > 0 ? sizes : [30, 300, 1000]) {
  const manifest = writeGeneratedManifest(generatedRules(n));
  const runs = Array.from({ length: RUNS }, () => synthOnce(manifest));
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(RUNS / 2)] ?? 0;
  const r = runs[0]!;
  console.log(
    `| ${r.rules} | ${(ms / 1000).toFixed(2)} s | ${r.stacks} | ${r.largest.name} ${(r.largest.bytes / 1024).toFixed(0)} KB | ` +
      `${r.largest.resources} | ${r.centralBusRules} | ${(r.memberBytes / 1024).toFixed(1)} KB (${r.memberBytes > 51_200 ? 'TemplateURL' : 'TemplateBody'}) |`,
  );
}
