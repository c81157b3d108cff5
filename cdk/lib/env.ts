/**
 * Environment variables every rule function receives. The Rust side (`patrol-aws`)
 * defines the same names; change both together.
 */

/** The rule's id from `rules.toml`, e.g. `root-console-login`. */
export const PATROL_RULE_ID = 'PATROL_RULE_ID';

/** The rule exactly as `patrol manifest --json` emitted it (JSON). */
export const PATROL_RULE = 'PATROL_RULE';

/**
 * JSON array, in the rule's `notify` order, of where its alerts go; one object per route:
 * `{ route, type: "sns", topic_arn }`, `{ route, type: "slack", secret }`,
 * `{ route, type: "pagerduty", secret }`, `{ route, type: "webhook", url, secret? }`.
 * `secret` is the Secrets Manager name or ARN as the manifest wrote it.
 */
export const PATROL_SINKS = 'PATROL_SINKS';

/** Name of the shared DynamoDB dedup table; set only for rules with `dedup`. */
export const PATROL_DEDUP_TABLE = 'PATROL_DEDUP_TABLE';

/**
 * URL of the rule's failure queue; set only for webhook rules, whose synchronous
 * invocations have no Lambda dead-letter path, so the handler writes failures there itself.
 */
export const PATROL_FAILURE_QUEUE_URL = 'PATROL_FAILURE_QUEUE_URL';

/** `tracing` filter for the Rust function. */
export const RUST_LOG = 'RUST_LOG';
