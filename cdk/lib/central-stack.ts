import { Annotations, AspectPriority, Aspects, Stack, type StackProps } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AlertTopic } from './alert-topic';
import { AuditRole, auditHandlers } from './audit-role';
import { CentralBus } from './central-bus';
import { Forwarding } from './forwarding';
import { ForwardingWatch } from './forwarding-watch';
import { HandlerAlarms } from './handler-alarms';
import { handlers } from './handler-config';
import { HandlerFunction } from './handler-function';
import { HandlerTriggers } from './handler-triggers';
import { LogRetention } from './log-retention';
import type { Manifest } from './manifest';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { CENTRAL_STACK, OPERATORS_TOPIC, routeTopicName } from './names';
import { checkQuotas } from './quotas';
import { StateTable } from './state-table';

/** The generic handler; it also keeps watch over forwarding. */
const NOTIFY = 'notify';

export interface PatrolCentralStackProps extends StackProps {
  /** The normalized manifest (`patrol manifest --json`). */
  readonly manifest: Manifest;
  /** @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** Cargo profile every function is built with. @default 'release' */
  readonly cargoProfile?: string;
  /**
   * Subscribed by email to the operators' topic, besides `[deploy].operators`.
   *
   * @default - only `[deploy].operators`
   */
  readonly operatorsEmail?: string;
  /** @default - `<repo>/lambdas` */
  readonly lambdasDir?: string;
  /** Reserved concurrency of each webhook function. @default 10 */
  readonly webhookConcurrency?: number;
  /** Retention of every log group in the stack. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The central account's part of Patrol: the central event bus every account forwards to,
 * one function per handler (fed by a few covering EventBridge rules, its rules in a
 * bundled file), one topic per `sns` route, the state table (delivery ledger and dedup
 * windows) and the operators' topic that every alarm notifies. The number of resources
 * grows with handlers, routes and schedules, not with rules: 1,000 rules fit one stack.
 * Construct ids come from handler, route, cover and schedule ids, so adding, removing or
 * reordering rules changes no other logical id.
 */
export class PatrolCentralStack extends Stack {
  public readonly bus: CentralBus;
  /** The central region's own forwarding, from the default bus to the central bus. */
  public readonly forwarding: Forwarding;
  public readonly operators: AlertTopic;
  public readonly routes: ReadonlyMap<string, AlertTopic>;
  public readonly state: StateTable;
  public readonly functions: ReadonlyMap<string, HandlerFunction>;
  public readonly triggers: ReadonlyMap<string, HandlerTriggers>;
  public readonly alarms: ReadonlyMap<string, HandlerAlarms>;
  public readonly manifest: Manifest;
  /** Heartbeats, the watchdog and their alarms. */
  public readonly watch: ForwardingWatch;
  /** `patrol-audit` in the central account; present when some rule uses an audit handler. */
  public readonly auditRole?: AuditRole;

  constructor(scope: Construct, id: string, props: PatrolCentralStackProps) {
    super(scope, id, {
      stackName: CENTRAL_STACK,
      description: `Patrol: security monitoring rules from ${props.manifest.source}`,
      ...props,
    });
    const { manifest } = props;
    this.manifest = manifest;

    const operatorEmails = [...new Set([...(manifest.deploy?.operators ?? []), ...(props.operatorsEmail === undefined ? [] : [props.operatorsEmail])])];
    this.operators = new AlertTopic(this, 'Operators', {
      topicName: OPERATORS_TOPIC,
      displayName: 'Patrol operators',
      email: operatorEmails,
      allowCloudWatchAlarms: true,
    });
    if (operatorEmails.length === 0) {
      const warning =
        'NO ONE HEARS PATROL FAILURE ALARMS: the operators topic has no subscriber. ' +
        'Add `operators = ["you@example.com"]` to [deploy] in rules.toml (or -c patrol:operatorsEmail=...), ' +
        'or subscribe something to the topic after deploying.';
      Annotations.of(this).addWarningV2('patrol:no-operators', warning);
    }

    this.bus = new CentralBus(this, 'Bus', {
      ...(manifest.deploy?.organization === undefined ? {} : { organization: manifest.deploy.organization }),
    });

    const routes = new Map<string, AlertTopic>();
    for (const route of manifest.routes) {
      if (route.type === 'sns') {
        routes.set(
          route.id,
          new AlertTopic(this, `Route-${route.id}`, {
            topicName: routeTopicName(route.id),
            displayName: `Patrol ${route.id}`,
            email: route.email,
            https: route.https,
          }),
        );
      }
    }
    this.routes = routes;
    this.state = new StateTable(this, 'State');

    // This account's events in this region reach the central bus like every other
    // account's: through the same covers (same account and region: no role).
    this.forwarding = new Forwarding(this, 'Forwarding', {
      covers: manifest.covers.forwarding,
      centralBusArn: this.bus.bus.eventBusArn,
    });

    const functions = new Map<string, HandlerFunction>();
    const triggers = new Map<string, HandlerTriggers>();
    const alarms = new Map<string, HandlerAlarms>();
    // notify also records heartbeats and runs the forwarding watchdog, so it always exists.
    for (const handler of [...new Set([...handlers(manifest), NOTIFY])].sort()) {
      const fn = new HandlerFunction(this, `Handler-${handler}`, {
        manifest,
        handler,
        stateTable: this.state,
        routeTopics: routes,
        operatorsTopic: this.operators.topic,
        ...(props.architecture === undefined ? {} : { architecture: props.architecture }),
        ...(props.cargoProfile === undefined ? {} : { cargoProfile: props.cargoProfile }),
        ...(props.lambdasDir === undefined ? {} : { lambdasDir: props.lambdasDir }),
        ...(props.webhookConcurrency === undefined ? {} : { webhookConcurrency: props.webhookConcurrency }),
      });
      const trig = new HandlerTriggers(fn, 'Triggers', {
        fn,
        feeds: manifest.covers.feeds[handler] ?? [],
        bus: this.bus.bus,
      });
      functions.set(handler, fn);
      triggers.set(handler, trig);
      alarms.set(handler, new HandlerAlarms(fn, 'Alarms', { fn, triggers: trig, operatorsTopic: this.operators.topic }));
    }
    this.functions = functions;
    const notify = functions.get(NOTIFY);
    if (notify === undefined) {
      throw new Error('the notify handler is always deployed');
    }
    this.watch = new ForwardingWatch(this, 'ForwardingWatch', { fn: notify, bus: this.bus.bus, operatorsTopic: this.operators.topic });
    this.triggers = triggers;
    this.alarms = alarms;

    // The central account is audited like any other; the StackSet does not reach it.
    const audits = auditHandlers(manifest);
    if (audits.length > 0) {
      const organizationId = manifest.deploy?.organization?.id;
      this.auditRole = new AuditRole(this, 'AuditRole', {
        centralAccount: manifest.deploy?.central.account ?? this.account,
        centralRegion: manifest.deploy?.central.region ?? this.region,
        handlers: audits,
        ...(organizationId === undefined ? {} : { organizationId }),
      });
    }

    Aspects.of(this).add(new LogRetention(props.logRetention ?? logs.RetentionDays.ONE_YEAR), {
      priority: AspectPriority.MUTATING,
    });
    checkQuotas(this);
    acknowledgeNagFindings(this);
  }
}
