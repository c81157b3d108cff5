/**
 * Environment variables every rule function receives. The Rust side (`patrol-aws`)
 * defines the same names; change both together.
 */

/** The rule's id from `rules.toml`, e.g. `root-console-login`. */
export const PATROL_RULE_ID = 'PATROL_RULE_ID';

/** The rule exactly as `patrol manifest --json` emitted it (JSON). */
export const PATROL_RULE = 'PATROL_RULE';

/** JSON array of `{ route, type, topic_arn }`: where this rule's alerts go. */
export const PATROL_SINKS = 'PATROL_SINKS';

/** `tracing` filter for the Rust function. */
export const RUST_LOG = 'RUST_LOG';
