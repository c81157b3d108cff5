/**
 * The normalized manifest, as printed by `patrol manifest --json`.
 *
 * The Rust `patrol` CLI is the only parser and validator of `rules.toml`; this module only
 * runs it and types its output. It does not re-check what the Rust side already checked.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_PATROL_BIN } from './paths';

/** The `format_version` this app understands. */
export const MANIFEST_FORMAT_VERSION = 1;

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** An alert route of type `sns`: a topic with email and https subscribers. */
export interface SnsRoute {
  readonly id: string;
  readonly type: 'sns';
  readonly email: readonly string[];
  readonly https: readonly string[];
}

/** Route kinds this app does not deploy yet keep their type so the error can name it. */
export interface OtherRoute {
  readonly id: string;
  readonly type: string;
}

export type Route = SnsRoute | OtherRoute;

/** An EventBridge event pattern, kept exactly as written: it may hold operators and `$or`. */
export type EventPatternJson = { readonly [key: string]: unknown };

export interface EventTrigger {
  readonly type: 'event';
  readonly pattern: EventPatternJson;
  /** Also match read-only CloudTrail management events (`Get*`, `List*`, `Describe*`). */
  readonly include_read_only: boolean;
}

export interface ScheduleTrigger {
  readonly type: 'schedule';
  /** `rate(...)` or `cron(...)`, as EventBridge takes it. */
  readonly expression: string;
}

/** Trigger kinds that come later (`sns`, `webhook`); synth rejects them by name. */
export interface OtherTrigger {
  readonly type: string;
}

export type Trigger = EventTrigger | ScheduleTrigger | OtherTrigger;

export interface Rule {
  readonly id: string;
  readonly description: string;
  readonly severity: Severity;
  /** Crate folder `lambdas/<handler>` and its binary name. */
  readonly handler: string;
  readonly trigger: Trigger;
  readonly message: string;
  /** Route ids. */
  readonly notify: readonly string[];
  readonly params: { readonly [key: string]: unknown };
  /** IAM actions the handler needs, beyond publishing its alerts. */
  readonly permissions: readonly string[];
  /** Regions whose events the rule watches; empty means any region. */
  readonly regions: readonly string[];
}

export interface Manifest {
  readonly format_version: number;
  /** The manifest file it was read from, for messages. */
  readonly source: string;
  readonly routes: readonly Route[];
  readonly rules: readonly Rule[];
}

export interface LoadManifestOptions {
  /**
   * The `patrol` binary that normalizes a `rules.toml`.
   *
   * @default - env `PATROL_BIN`, else `<repo>/target/debug/patrol`
   */
  readonly patrolBin?: string;
}

/**
 * Reads a manifest: a `.json` file as is (already normalized), anything else through
 * `patrol manifest --json --manifest <file>`. Throws with patrol's diagnostics when it
 * rejects the file, so synth stops with the real message.
 */
export function loadManifest(file: string, options: LoadManifestOptions = {}): Manifest {
  const json = file.endsWith('.json') ? readJsonFile(file) : runPatrol(file, options);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new Error(`${file}: the normalized manifest is not valid JSON: ${(e as Error).message}`);
  }
  const manifest = parsed as Manifest;
  if (manifest.format_version !== MANIFEST_FORMAT_VERSION) {
    throw new Error(
      `${file}: manifest format_version ${String(manifest.format_version)} is not supported by this CDK app ` +
        `(it reads version ${MANIFEST_FORMAT_VERSION}); rebuild the patrol CLI and the CDK app from the same commit`,
    );
  }
  return manifest;
}

function readJsonFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read manifest ${file}: ${(e as Error).message}`);
  }
}

function runPatrol(file: string, options: LoadManifestOptions): string {
  const patrolBin = options.patrolBin ?? process.env.PATROL_BIN ?? DEFAULT_PATROL_BIN;
  const args = ['manifest', '--json', '--manifest', file];
  const result = spawnSync(patrolBin, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) {
    const hint =
      (result.error as NodeJS.ErrnoException).code === 'ENOENT'
        ? ` (not found; build it with \`cargo build -p patrol-cli\` or set PATROL_BIN)`
        : '';
    throw new Error(`cannot run ${patrolBin}${hint}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const how = result.status === null ? `was killed by ${String(result.signal)}` : `exited with ${result.status}`;
    throw new Error(
      `${path.basename(patrolBin)} ${args.join(' ')} ${how}; the manifest must be fixed before synth:\n` +
        result.stderr.trimEnd(),
    );
  }
  return result.stdout;
}
