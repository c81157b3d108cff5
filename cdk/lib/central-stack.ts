import { AspectPriority, Aspects, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AlertTopic } from './alert-topic';
import { DedupTable } from './dedup-table';
import { LogRetention } from './log-retention';
import type { Manifest, Route } from './manifest';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { PatrolRule, type RuleSink } from './patrol-rule';

export interface PatrolCentralStackProps extends StackProps {
  /** The normalized manifest (`patrol manifest --json`). */
  readonly manifest: Manifest;
  /**
   * CPU architecture of every rule function.
   *
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Cargo profile every rule function is built with.
   *
   * @default 'release'
   */
  readonly cargoProfile?: string;
  /**
   * Subscribed by email to the operators' topic, which hears about failed events.
   *
   * @default - no subscriber; subscribe one after deploying
   */
  readonly operatorsEmail?: string;
  /**
   * Folder holding one crate per handler.
   *
   * @default - `<repo>/lambdas`
   */
  readonly lambdasDir?: string;
  /**
   * Retention of every log group in the stack.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The central account's part of Patrol: one topic per `sns` route, one `PatrolRule` per
 * rule, the operators' topic that failure alarms notify, and the dedup table when some rule
 * deduplicates. Slack, PagerDuty and webhook routes are only grants on their rules' roles.
 * Construct ids come from route and rule ids, so reordering the manifest changes no
 * logical id.
 */
export class PatrolCentralStack extends Stack {
  public readonly operators: AlertTopic;
  public readonly routes: ReadonlyMap<string, AlertTopic>;
  public readonly rules: ReadonlyMap<string, PatrolRule>;
  /** Present when some rule has `dedup`. */
  public readonly dedup?: DedupTable;

  constructor(scope: Construct, id: string, props: PatrolCentralStackProps) {
    super(scope, id, {
      description: `Patrol: security monitoring rules from ${props.manifest.source}`,
      ...props,
    });
    const { manifest } = props;

    this.operators = new AlertTopic(this, 'Operators', {
      displayName: 'Patrol operators',
      email: props.operatorsEmail === undefined ? [] : [props.operatorsEmail],
      allowCloudWatchAlarms: true,
    });

    const routes = new Map<string, AlertTopic>();
    const sinks = new Map<string, RuleSink>();
    for (const route of manifest.routes) {
      sinks.set(route.id, this.routeSink(route, routes));
    }
    this.routes = routes;

    if (manifest.rules.some((rule) => rule.dedup !== undefined)) {
      this.dedup = new DedupTable(this, 'Dedup');
    }

    const rules = new Map<string, PatrolRule>();
    for (const rule of manifest.rules) {
      const ruleSinks: RuleSink[] = rule.notify.map((routeId) => {
        const sink = sinks.get(routeId);
        if (!sink) {
          // patrol validate rejects this first; reaching it means a stale or hand-written JSON.
          throw new Error(`rule \`${rule.id}\` notifies unknown route \`${routeId}\` (in ${manifest.source})`);
        }
        return sink;
      });
      rules.set(
        rule.id,
        new PatrolRule(this, `Rule-${rule.id}`, {
          rule,
          sinks: ruleSinks,
          operatorsTopic: this.operators.topic,
          ...(this.dedup === undefined ? {} : { dedupTable: this.dedup }),
          ...(props.architecture === undefined ? {} : { architecture: props.architecture }),
          ...(props.cargoProfile === undefined ? {} : { cargoProfile: props.cargoProfile }),
          ...(props.lambdasDir === undefined ? {} : { lambdasDir: props.lambdasDir }),
        }),
      );
    }
    this.rules = rules;

    Aspects.of(this).add(new LogRetention(props.logRetention ?? logs.RetentionDays.ONE_YEAR), {
      priority: AspectPriority.MUTATING,
    });
    acknowledgeNagFindings(this);
  }

  /** An `sns` route becomes a topic (added to `topics`); the others are delivered by the functions. */
  private routeSink(route: Route, topics: Map<string, AlertTopic>): RuleSink {
    switch (route.type) {
      case 'sns': {
        const topic = new AlertTopic(this, `Route-${route.id}`, {
          displayName: `Patrol ${route.id}`,
          email: route.email,
          https: route.https,
        });
        topics.set(route.id, topic);
        return { type: 'sns', route: route.id, topic: topic.topic };
      }
      case 'slack':
      case 'pagerduty':
        return { type: route.type, route: route.id, secret: route.secret };
      case 'webhook':
        return {
          type: 'webhook',
          route: route.id,
          url: route.url,
          ...(route.secret === undefined ? {} : { secret: route.secret }),
        };
      default: {
        // A route type newer than this app (the manifest JSON is typed, not re-validated).
        const unknown = route as { id: string; type: string };
        throw new Error(
          `route \`${unknown.id}\`: type \`${unknown.type}\` is not supported by this CDK app ` +
            `(supported: sns, slack, pagerduty, webhook); rebuild the patrol CLI and the CDK app from the same commit`,
        );
      }
    }
  }
}

