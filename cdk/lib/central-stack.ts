import { AspectPriority, Aspects, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AlertTopic } from './alert-topic';
import { LogRetention } from './log-retention';
import type { Manifest, Route, SnsRoute } from './manifest';
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
 * rule, and the operators' topic that failure alarms notify. Construct ids come from
 * route and rule ids, so reordering the manifest changes no logical id.
 */
export class PatrolCentralStack extends Stack {
  public readonly operators: AlertTopic;
  public readonly routes: ReadonlyMap<string, AlertTopic>;
  public readonly rules: ReadonlyMap<string, PatrolRule>;

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
    for (const route of manifest.routes.map(snsRoute)) {
      routes.set(
        route.id,
        new AlertTopic(this, `Route-${route.id}`, {
          displayName: `Patrol ${route.id}`,
          email: route.email,
          https: route.https,
        }),
      );
    }
    this.routes = routes;

    const rules = new Map<string, PatrolRule>();
    for (const rule of manifest.rules) {
      const sinks: RuleSink[] = rule.notify.map((routeId) => {
        const topic = routes.get(routeId);
        if (!topic) {
          // patrol validate rejects this first; reaching it means a stale or hand-written JSON.
          throw new Error(`rule \`${rule.id}\` notifies unknown route \`${routeId}\` (in ${manifest.source})`);
        }
        return { route: routeId, topic: topic.topic };
      });
      rules.set(
        rule.id,
        new PatrolRule(this, `Rule-${rule.id}`, {
          rule,
          sinks,
          operatorsTopic: this.operators.topic,
          ...(props.architecture === undefined ? {} : { architecture: props.architecture }),
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
}

function snsRoute(route: Route): SnsRoute {
  if (route.type !== 'sns' || !('email' in route)) {
    throw new Error(`route \`${route.id}\`: type \`${route.type}\` is not supported by the CDK app yet (supported: sns)`);
  }
  return route;
}
