/**
 * The app's settings, read once from CDK context (`cdk.json` or `cdk synth -c key=value`).
 */
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Node } from 'constructs';
import { DEFAULT_MANIFEST } from './paths';

/** Context key: the manifest to synthesize (`rules.toml`, or a normalized `.json`). */
export const CONTEXT_MANIFEST = 'patrol:manifest';
/** Context key: `arm64` (default) or `x86_64`, for every rule function. */
export const CONTEXT_ARCHITECTURE = 'patrol:architecture';
/**
 * Context key: the cargo profile the functions are built with. `release` (default) is what
 * `cdk deploy` ships; `make demo` and `make test` synthesize with `lambda-dev`, which
 * compiles in a fraction of the time (see Cargo.toml).
 */
export const CONTEXT_CARGO_PROFILE = 'patrol:cargoProfile';
/** Context key: `true` synthesizes templates without building the functions. */
export const CONTEXT_SKIP_BUNDLING = 'patrol:skipBundling';
/**
 * Context key: `true` lets an app whose `[deploy]` holds AWS's example ids synthesize even
 * when the CDK CLI has credentials (without it, such an app refuses, so it is never deployed).
 */
export const CONTEXT_ALLOW_EXAMPLE_IDS = 'patrol:allowExampleIds';
/** Context key: reserved concurrency of each handler's webhook function (default 10). */
export const CONTEXT_WEBHOOK_CONCURRENCY = 'patrol:webhookConcurrency';
/** Context key: optional email address subscribed to the operators' topic. */
export const CONTEXT_OPERATORS_EMAIL = 'patrol:operatorsEmail';

export interface PatrolSettings {
  /** Absolute path of the manifest. */
  readonly manifestPath: string;
  readonly architecture: lambda.Architecture;
  /** A profile of the workspace's Cargo.toml. */
  readonly cargoProfile: string;
  readonly operatorsEmail?: string;
  readonly webhookConcurrency?: number;
}

const ARCHITECTURES: { readonly [name: string]: lambda.Architecture } = {
  arm64: lambda.Architecture.ARM_64,
  x86_64: lambda.Architecture.X86_64,
};

/** Reads and checks the `patrol:*` context keys. */
export function readSettings(node: Node): PatrolSettings {
  const manifest = optionalString(node, CONTEXT_MANIFEST) ?? DEFAULT_MANIFEST;
  const archName = optionalString(node, CONTEXT_ARCHITECTURE) ?? 'arm64';
  const architecture = ARCHITECTURES[archName];
  if (!architecture) {
    throw new Error(
      `context ${CONTEXT_ARCHITECTURE}=${archName} is not supported; use one of: ${Object.keys(ARCHITECTURES).join(', ')}`,
    );
  }
  const cargoProfile = optionalString(node, CONTEXT_CARGO_PROFILE) ?? 'release';
  if (!/^[a-z][a-z0-9_-]*$/.test(cargoProfile)) {
    throw new Error(
      `context ${CONTEXT_CARGO_PROFILE}=${cargoProfile} is not a cargo profile name; use \`release\` (deploy) or \`lambda-dev\` (quick checks)`,
    );
  }
  const operatorsEmail = optionalString(node, CONTEXT_OPERATORS_EMAIL);
  const concurrency: unknown = node.tryGetContext(CONTEXT_WEBHOOK_CONCURRENCY);
  let webhookConcurrency: number | undefined;
  if (concurrency !== undefined) {
    webhookConcurrency = Number(concurrency);
    if (!Number.isInteger(webhookConcurrency) || webhookConcurrency < 1 || webhookConcurrency > 1000) {
      throw new Error(
        `context ${CONTEXT_WEBHOOK_CONCURRENCY}=${String(concurrency)} is not a whole number from 1 to 1000 ` +
          '(the reserved concurrency of each webhook function)',
      );
    }
  }
  return {
    ...(webhookConcurrency === undefined ? {} : { webhookConcurrency }),
    manifestPath: path.resolve(manifest),
    architecture,
    cargoProfile,
    ...(operatorsEmail === undefined ? {} : { operatorsEmail }),
  };
}

function optionalString(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new Error(`context ${key} must be a string, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A boolean context key: `true` (JSON) or `"true"` (`-c key=true`). */
export function contextFlag(node: Node, key: string): boolean {
  const value: unknown = node.tryGetContext(key);
  return value === true || value === 'true';
}
