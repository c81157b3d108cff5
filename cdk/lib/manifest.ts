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

/** An alert route of type `sns`: a topic Patrol creates, with email and https subscribers. */
export interface SnsRoute {
  readonly id: string;
  readonly type: 'sns';
  readonly email: readonly string[];
  readonly https: readonly string[];
}

/**
 * A Secrets Manager secret as the manifest names it: a secret name (`patrol/slack-sec`) or
 * a full secret ARN. Never the secret's value.
 */
export type SecretRef = string;

/** A Slack incoming webhook; the secret's value is the webhook URL. */
export interface SlackRoute {
  readonly id: string;
  readonly type: 'slack';
  readonly secret: SecretRef;
}

/** PagerDuty Events API v2; the secret's value is the integration's routing key. */
export interface PagerdutyRoute {
  readonly id: string;
  readonly type: 'pagerduty';
  readonly secret: SecretRef;
}

/** Any HTTPS endpoint, sent the alert as JSON; signed with the secret when there is one. */
export interface WebhookRoute {
  readonly id: string;
  readonly type: 'webhook';
  readonly url: string;
  readonly secret?: SecretRef;
}

export type Route = SnsRoute | SlackRoute | PagerdutyRoute | WebhookRoute;

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

/** Messages published to an existing SNS topic, filtered by SNS first. */
export interface SnsTrigger {
  readonly type: 'sns';
  /** `arn:<partition>:sns:<region>:<account>:<name>`; may be in another region or account. */
  readonly topic_arn: string;
  /** An SNS filter policy, kept exactly as written. */
  readonly filter_policy?: { readonly [key: string]: unknown };
  /** What the filter policy applies to. @default 'MessageAttributes' (SNS's default) */
  readonly filter_policy_scope?: 'MessageAttributes' | 'MessageBody';
}

export type WebhookProvider = 'github' | 'gitlab' | 'generic';

/** HTTPS requests from a third party to the rule's Lambda function URL, signed with `secret`. */
export interface WebhookTrigger {
  readonly type: 'webhook';
  readonly provider: WebhookProvider;
  /** The signing secret shared with the provider. */
  readonly secret: SecretRef;
}

export type Trigger = EventTrigger | ScheduleTrigger | SnsTrigger | WebhookTrigger;

/** At most one alert per rendered `key` per `window_seconds`; the window lives in DynamoDB. */
export interface Dedup {
  /** A template, rendered like the message. */
  readonly key: string;
  readonly window_seconds: number;
}

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
  /** @default - every alert is sent */
  readonly dedup?: Dedup;
}

/** `[deploy].central`: where the rules run and alerts leave. */
export interface CentralPlacement {
  readonly account: string;
  readonly region: string;
}

/** `[deploy].organization`: the AWS Organization whose accounts forward their events. */
export interface Organization {
  /** `o-...`; the central bus admits `events:PutEvents` from it (`aws:PrincipalOrgID`). */
  readonly id: string;
  /** Service-managed StackSets never deploy here: it gets plain forwarder stacks. */
  readonly management_account: string;
  /** OU ids (`ou-...`) or the root (`r-...`) the member StackSet deploys to. */
  readonly targets: readonly string[];
}

/** `[deploy]`, normalized by `patrol manifest --json`. */
export interface Deploy {
  readonly central: CentralPlacement;
  /** Regions that forward: us-east-1 first, then the central region, then the rest. */
  readonly regions: readonly string[];
  /** Absent for a single account. */
  readonly organization?: Organization;
  /** Email addresses subscribed to the operators' topic. */
  readonly operators: readonly string[];
  /** Field paths holding AWS's documented example ids; deploying them is refused. */
  readonly example_ids: readonly string[];
}

/**
 * A covering pattern computed by `patrol`: it matches every event that any of its `rules`
 * matches (proved by a Rust property test), stays within EventBridge's limits and never
 * uses `wildcard`. Each event rule is in exactly one cover of a list.
 */
export interface Cover {
  /** Stable, `[a-z0-9-]{1,32}`: rule names and logical ids derive from it. */
  readonly id: string;
  readonly pattern: EventPatternJson;
  /** The EventBridge rule's state is ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS. */
  readonly include_read_only: boolean;
  readonly rules: readonly string[];
}

export interface Covers {
  /** Over every event rule: what each account forwards to the central bus. */
  readonly forwarding: readonly Cover[];
  /** Per handler, over its event rules: the EventBridge rules on the central bus that invoke it. */
  readonly feeds: { readonly [handler: string]: readonly Cover[] };
}

/** What a handler does (`kind` in its handler.toml). */
export type HandlerKind = 'notify' | 'audit';

/** One parameter a handler declares (`[params.NAME]`). */
export interface ParamDeclaration {
  /** A `ParamType` name: `string`, `positive_integer`, `account_ids`, ... */
  readonly type: string;
  readonly required: boolean;
  /** Already applied to the rules' `params` by `patrol manifest`. */
  readonly default?: unknown;
  readonly description: string;
}

/**
 * One IAM Allow statement a handler declares, checked by `patrol validate`: exact actions
 * (no wildcards), and a `why` whenever a resource is `*`. Resources may contain
 * `${AWS::Partition}`, `${AWS::AccountId}` and `${AWS::Region}`.
 */
export interface PermissionStatement {
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /** Why a `*` resource is needed; the cdk-nag acknowledgement's reason. */
  readonly why?: string;
}

/** A handler's declaration (`lambdas/<handler>/handler.toml`). */
export interface HandlerDeclaration {
  readonly kind: HandlerKind;
  readonly description: string;
  readonly params: { readonly [name: string]: ParamDeclaration };
  /** For the handler's own function role. */
  readonly permissions: readonly PermissionStatement[];
  /** For the read-only `patrol-audit` role in every account (audit handlers only). */
  readonly audit_permissions: readonly PermissionStatement[];
}

export interface Manifest {
  readonly format_version: number;
  /** The manifest file it was read from, for messages. */
  readonly source: string;
  readonly routes: readonly Route[];
  readonly rules: readonly Rule[];
  /** Absent when rules.toml has no `[deploy]`: one account, the CLI's region. */
  readonly deploy?: Deploy;
  readonly covers: Covers;
  /** The declaration of every handler a rule uses, by handler name. */
  readonly handlers: { readonly [handler: string]: HandlerDeclaration };
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
