/**
 * Environment variables every handler function receives. The Rust side (`patrol-aws`'s
 * config) defines the same names; change both together.
 */

/** Path of the handler's config file (its rules, routes, feeds and schedules): `/opt/patrol/config.json`. */
export const PATROL_CONFIG = 'PATROL_CONFIG';

/** `arn:<partition>:sns:<region>:<account>:`; an `sns` route's topic ARN is this plus its topic name. */
export const PATROL_TOPIC_ARN_PREFIX = 'PATROL_TOPIC_ARN_PREFIX';

/** Name of the state table: the delivery ledger and the dedup windows. */
export const PATROL_STATE_TABLE = 'PATROL_STATE_TABLE';

/**
 * URL of the handler's failure queue, where the function writes what it failed on for
 * webhook requests (synchronous: no Lambda dead-letter path).
 */
export const PATROL_FAILURE_QUEUE_URL = 'PATROL_FAILURE_QUEUE_URL';

/**
 * The function's timeout in whole seconds. Lambda gives each invocation its deadline but not
 * the timeout, which the function needs to know how long another invocation may still hold
 * a dedup claim.
 */
export const PATROL_FUNCTION_TIMEOUT_SECONDS = 'PATROL_FUNCTION_TIMEOUT_SECONDS';

/** `tracing` filter for the Rust function. */
export const RUST_LOG = 'RUST_LOG';
