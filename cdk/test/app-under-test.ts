/**
 * Builds the Patrol app for a test the way `cdk synth` does (cdk.json's context, the same
 * `buildPatrolApp` wiring), minus bundling: the Rust build belongs to `make demo`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, type Environment } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { buildPatrolApp, type PatrolApp } from '../lib/app';
import type { PatrolCentralStack } from '../lib/central-stack';
import type { Manifest } from '../lib/manifest';
import { REPO_ROOT } from '../lib/paths';
import { CONTEXT_MANIFEST } from '../lib/settings';

export const FIXTURES = path.join(__dirname, 'fixtures');
export const FAKE_PATROL = path.join(FIXTURES, 'fake-patrol.sh');

const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

export interface AppUnderTest {
  readonly app: App;
  /** Every stack of the app. */
  readonly patrol: PatrolApp;
  /** The central stack, and its template. */
  readonly stack: PatrolCentralStack;
  readonly template: Template;
}

export interface BuildOptions {
  /**
   * The central stack's environment.
   *
   * @default { region: 'us-east-1' }
   */
  readonly env?: Environment;
}

/** Synthesizes the manifest at `manifestPath` (a fixture name or a path). */
export function synthManifest(
  manifestPath: string,
  context: Record<string, unknown> = {},
  patrolBin: string = FAKE_PATROL,
  options: BuildOptions = {},
): AppUnderTest {
  const { app, patrol } = buildManifestApp(manifestPath, context, patrolBin, options);
  return { app, patrol, stack: patrol.central, template: Template.fromStack(patrol.central) };
}

/** Builds, but does not synthesize, the app for the manifest at `manifestPath`. */
export function buildManifestApp(
  manifestPath: string,
  context: Record<string, unknown> = {},
  patrolBin: string = FAKE_PATROL,
  options: BuildOptions = {},
): Pick<AppUnderTest, 'app' | 'patrol'> {
  const app = new App({
    context: {
      ...cdkJson.context,
      'aws:cdk:bundling-stacks': [],
      [CONTEXT_MANIFEST]: path.isAbsolute(manifestPath) ? manifestPath : path.join(FIXTURES, manifestPath),
      ...context,
    },
  });
  const patrol = buildPatrolApp(app, { env: options.env ?? { region: 'us-east-1' }, patrolBin });
  return { app, patrol };
}

/** Reads a fixture manifest. */
export function readFixture(name: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Manifest;
}

/** Writes `manifest` to a fresh temporary `.json` file and returns its path. */
export function writeTempManifest(manifest: Manifest): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patrol-cdk-'));
  const file = path.join(dir, 'manifest.json');
  fs.writeFileSync(file, JSON.stringify(manifest));
  return file;
}

/** The logical id of the one resource of `type` whose logical id starts with `pathPart`. */
export function logicalId(template: Template, type: string, pathPart: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(pathPart));
  expect(ids, `${type} under ${pathPart}`).toHaveLength(1);
  return ids[0]!;
}
