import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Fn, Stack, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import type { AlertTopic } from './alert-topic';
import {
  PATROL_CONFIG,
  PATROL_FAILURE_QUEUE_URL,
  PATROL_FUNCTION_TIMEOUT_SECONDS,
  PATROL_STATE_TABLE,
  PATROL_TOPIC_ARN_PREFIX,
  RUST_LOG,
} from './env';
import { DeclaredPolicies } from './declared-permissions';
import { FailureQueue } from './failure-queue';
import { CONFIG_PATH, type HandlerConfig, handlerConfig, handlerRoutes, handlerRules, writeConfigLayer } from './handler-config';
import type { HandlerDeclaration, Manifest, PermissionStatement, Rule, SecretRef } from './manifest';
import { failureQueueName, functionName, handlerRoleName, webhookFunctionName } from './names';
import { LAMBDAS_DIR } from './paths';
import { grantReadSecrets } from './secret-access';
import type { StateTable } from './state-table';

export interface HandlerFunctionProps {
  readonly manifest: Manifest;
  /** The handler: crate `lambdas/<handler>`, binary `<handler>`. */
  readonly handler: string;
  readonly stateTable: StateTable;
  /** Route id → its topic, for `sns` routes. */
  readonly routeTopics: ReadonlyMap<string, AlertTopic>;
  /** Notified by the failure-queue alarm. */
  readonly operatorsTopic: sns.ITopic;
  /** @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** @default 'release' */
  readonly cargoProfile?: string;
  /** @default - `<repo>/lambdas` */
  readonly lambdasDir?: string;
  /**
   * Reserved concurrency of the webhook function (what a flood of requests can take).
   *
   * @default DEFAULT_WEBHOOK_CONCURRENCY
   */
  readonly webhookConcurrency?: number;
}

/** Reserved for the webhook function unless `patrol:webhookConcurrency` says otherwise. */
export const DEFAULT_WEBHOOK_CONCURRENCY = 10;
/** A handler function's timeout; the function derives its delivery deadline from it. */
export const HANDLER_TIMEOUT = Duration.seconds(60);
/**
 * An audit handler's timeout (Lambda's longest): one run walks every account of the
 * organization, eight at a time, each bounded by its own deadline within this one.
 */
export const AUDIT_HANDLER_TIMEOUT = Duration.minutes(15);

/**
 * One handler's function, serving every rule of that handler: the Rust binary, its rules in
 * a layer (`/opt/patrol/config.json`), its role with exactly the grants its rules' routes
 * and triggers need plus the statements its handler.toml declares (`[[permissions]]`, one
 * policy each, [`DeclaredPolicies`]), its log group, and its failure queue (the on-failure
 * destination after Lambda's async retries, where every record names the rule and the route
 * that failed). Triggers and alarms are attached by `HandlerTriggers` and `HandlerAlarms`.
 *
 * Adding or removing a rule changes only the config layer (a new layer version, which the
 * function picks up): no other resource is replaced.
 */
export class HandlerFunction extends Construct {
  public readonly handler: string;
  public readonly rules: readonly Rule[];
  public readonly config: HandlerConfig;
  /** Serves the event, schedule and SNS rules. */
  public readonly function: lambda.Function;
  /** Serves the webhook rules, behind the function URL; present when the handler has some. */
  public readonly webhookFunction?: lambda.Function;
  public readonly role: iam.Role;
  public readonly failures: FailureQueue;
  public readonly configLayer: lambda.LayerVersion;
  /** The folder the layer is made of (`patrol/config.json` inside). */
  public readonly configDir: string;
  /** The handler's declaration (`lambdas/<handler>/handler.toml`); absent when no rule uses it. */
  public readonly declaration?: HandlerDeclaration;
  /** The statements it declares for this function's role. */
  public readonly permissions: readonly PermissionStatement[];
  /** One policy per declared statement, each acknowledging exactly its own wildcards. */
  public readonly declaredPolicies?: DeclaredPolicies;
  public readonly stateTable: StateTable;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    const { manifest, handler } = props;
    const stack = Stack.of(this);
    this.handler = handler;
    this.stateTable = props.stateTable;
    this.rules = handlerRules(manifest, handler);

    const manifestPath = path.join(props.lambdasDir ?? LAMBDAS_DIR, handler, 'Cargo.toml');
    if (!fs.existsSync(manifestPath)) {
      const users = this.rules.map((r) => `\`${r.id}\``).join(', ');
      throw new Error(
        `handler \`${handler}\` (used by ${users}) has no crate at ${manifestPath} ` +
          `(a handler is a crate in lambdas/ whose binary has the same name)`,
      );
    }

    this.config = handlerConfig(manifest, handler);
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    this.configDir = writeConfigLayer(this.config);
    this.configLayer = new lambda.LayerVersion(this, 'Config', {
      code: lambda.Code.fromAsset(this.configDir),
      compatibleArchitectures: [architecture],
      description: `Patrol: the ${this.rules.length} rule(s) of handler ${handler} (${CONFIG_PATH})`,
    });

    this.failures = new FailureQueue(this, 'Failures', {
      owner: `handler ${handler}`,
      queueName: failureQueueName(handler),
      alarmTopic: props.operatorsTopic,
    });

    const name = functionName(handler);
    const logGroup = new logs.LogGroup(this, 'Logs', { logGroupName: `/aws/lambda/${name}` });
    this.role = new iam.Role(this, 'Role', {
      roleName: handlerRoleName(handler, stack.region),
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Patrol handler ${handler}: ${this.rules.length} rule(s)`,
    });
    logGroup.grantWrite(this.role);

    const routes = handlerRoutes(manifest, this.rules);
    for (const route of routes) {
      if (route.type === 'sns') {
        const topic = props.routeTopics.get(route.id);
        if (!topic) {
          throw new Error(`route \`${route.id}\` has no topic; the central stack creates one per sns route`);
        }
        topic.topic.grantPublish(this.role);
      }
    }
    const secrets: SecretRef[] = [
      ...routes.flatMap((r) => (r.type !== 'sns' && r.secret !== undefined ? [r.secret] : [])),
      ...this.rules.flatMap((r) => (r.trigger.type === 'webhook' ? [r.trigger.secret] : [])),
    ];
    grantReadSecrets(this.role, this, secrets);
    props.stateTable.grantItemAccess(this.role);
    // Webhook requests are synchronous (no Lambda retries or destination): the handler
    // writes what it failed on to the queue itself.
    this.failures.queue.grantSendMessages(this.role);

    const declaration = manifest.handlers?.[handler];
    if (declaration === undefined && this.rules.length > 0) {
      throw new Error(
        `handler \`${handler}\` has no declaration in the manifest (${manifest.source}); ` +
          `add lambdas/${handler}/handler.toml and rebuild the patrol CLI and the CDK app from the same commit`,
      );
    }
    if (declaration !== undefined) {
      this.declaration = declaration;
    }
    this.permissions = declaration?.permissions ?? [];
    if (this.permissions.length > 0) {
      this.declaredPolicies = new DeclaredPolicies(this, 'Declared', {
        role: this.role,
        statements: this.permissions,
        source: `lambdas/${handler}/handler.toml`,
      });
    }

    const timeout = declaration?.kind === 'audit' ? AUDIT_HANDLER_TIMEOUT : HANDLER_TIMEOUT;
    const environment = {
      [PATROL_CONFIG]: CONFIG_PATH,
      [PATROL_TOPIC_ARN_PREFIX]: Fn.sub('arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:'),
      [PATROL_STATE_TABLE]: props.stateTable.table.tableName,
      [PATROL_FAILURE_QUEUE_URL]: this.failures.queue.queueUrl,
      [PATROL_FUNCTION_TIMEOUT_SECONDS]: String(timeout.toSeconds()),
      [RUST_LOG]: 'info',
    };
    const common = {
      manifestPath,
      binaryName: handler,
      runtime: 'provided.al2023' as const,
      architecture,
      bundling: { profile: props.cargoProfile ?? 'release' },
      layers: [this.configLayer],
      // Room for every rule an event reaches, each route with its retries, and recording a
      // failure before Lambda would stop the invocation.
      timeout,
      role: this.role,
      environment,
    };
    this.function = new RustFunction(this, 'Function', {
      ...common,
      functionName: name,
      memorySize: 256,
      description: truncate(`Patrol handler ${handler}: ${this.rules.map((r) => r.id).join(', ')}`, 256),
      logGroup,
      retryAttempts: 2,
      onFailure: new destinations.SqsDestination(this.failures.queue),
    });

    // Webhook rules get the same code and rules in a function of their own, behind the
    // public function URL: a flood of requests uses up only its reserved concurrency, never
    // the concurrency the event, schedule and SNS rules run on. Its memory holds the largest
    // body a function URL accepts (6 MB) several times over while it is decoded and parsed.
    const webhookRules = this.rules.filter((r) => r.trigger.type === 'webhook');
    if (webhookRules.length > 0) {
      const webhookName = webhookFunctionName(handler);
      const webhookLogs = new logs.LogGroup(this, 'WebhookLogs', { logGroupName: `/aws/lambda/${webhookName}` });
      webhookLogs.grantWrite(this.role);
      this.webhookFunction = new RustFunction(this, 'WebhookFunction', {
        ...common,
        functionName: webhookName,
        memorySize: 512,
        reservedConcurrentExecutions: props.webhookConcurrency ?? DEFAULT_WEBHOOK_CONCURRENCY,
        description: truncate(`Patrol handler ${handler}, webhooks: ${webhookRules.map((r) => r.id).join(', ')}`, 256),
        logGroup: webhookLogs,
      });
    }

    Tags.of(this).add('patrol:handler', handler);
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
