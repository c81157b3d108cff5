import * as path from 'node:path';

/** The repository root: `cdk/lib/..` /.. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where handler crates live: `lambdas/<handler>/Cargo.toml`. */
export const LAMBDAS_DIR = path.join(REPO_ROOT, 'lambdas');

/** The `patrol` binary the Makefile builds before synth and tests. */
export const DEFAULT_PATROL_BIN = path.join(REPO_ROOT, 'target', 'debug', 'patrol');

/** The manifest synthesized when context `patrol:manifest` is not set. */
export const DEFAULT_MANIFEST = path.join(REPO_ROOT, 'rules.toml');
