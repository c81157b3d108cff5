/**
 * The file a handler function reads its rules from (`/opt/patrol/config.json`, in a Lambda
 * layer): every rule of the handler as `patrol manifest --json` normalized it, where each
 * route's alerts go, and which rules each feed and schedule invokes. Rules live in a file,
 * not in the environment (4 KB for all variables), so one function holds any number.
 * `crates/patrol-aws` reads the same shape; change both together.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Manifest, Route, Rule } from './manifest';
import { routeTopicName } from './names';

export const CONFIG_FORMAT_VERSION = 1;
/** Where the layer's files appear in the function. */
export const CONFIG_PATH = '/opt/patrol/config.json';

export type RouteConfig =
  | { readonly type: 'sns'; readonly route: string; readonly topic_name: string }
  | { readonly type: 'slack' | 'pagerduty'; readonly route: string; readonly secret: string }
  | { readonly type: 'webhook'; readonly route: string; readonly url: string; readonly secret?: string };

export interface HandlerConfig {
  readonly format_version: number;
  readonly handler: string;
  readonly rules: readonly Rule[];
  readonly routes: readonly RouteConfig[];
  /** Feed (cover) id → the rules it invokes the function for. */
  readonly feeds: { readonly [feed: string]: readonly string[] };
  /** Schedule group id → the rules that share its expression. */
  readonly schedules: { readonly [group: string]: readonly string[] };
  /**
   * The `[deploy]` regions, in their order (us-east-1 first, then the central region, then
   * the others): where audits look. Empty without `[deploy]`: the function's own region.
   */
  readonly regions: readonly string[];
}

/** Rules of one handler sharing one schedule expression: one EventBridge rule for all of them. */
export interface ScheduleGroup {
  readonly id: string;
  readonly expression: string;
  readonly rules: readonly string[];
}

/**
 * A stable id for a schedule expression, readable when it can be: `rate(5 minutes)` →
 * `rate-5-minutes`; cron expressions get a digest (their characters are not name-safe).
 */
export function scheduleGroupId(expression: string): string {
  const rate = /^rate\((\d+) ([a-z]+)\)$/.exec(expression);
  if (rate) {
    return `rate-${rate[1]}-${rate[2]}`;
  }
  return `cron-${createHash('sha256').update(expression).digest('hex').slice(0, 10)}`;
}

export function scheduleGroups(rules: readonly Rule[]): ScheduleGroup[] {
  const groups = new Map<string, { expression: string; rules: string[] }>();
  for (const rule of rules) {
    if (rule.trigger.type !== 'schedule') {
      continue;
    }
    const id = scheduleGroupId(rule.trigger.expression);
    const group = groups.get(id) ?? { expression: rule.trigger.expression, rules: [] };
    group.rules.push(rule.id);
    groups.set(id, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, g]) => ({ id, expression: g.expression, rules: g.rules }));
}

/** Handler names in use, sorted: one function each. */
export function handlers(manifest: Manifest): string[] {
  return [...new Set(manifest.rules.map((r) => r.handler))].sort();
}

export function handlerRules(manifest: Manifest, handler: string): Rule[] {
  return manifest.rules.filter((r) => r.handler === handler);
}

/** The routes the handler's rules notify, in manifest order. */
export function handlerRoutes(manifest: Manifest, rules: readonly Rule[]): Route[] {
  const used = new Set(rules.flatMap((r) => r.notify));
  for (const id of used) {
    if (!manifest.routes.some((route) => route.id === id)) {
      // patrol validate rejects this first; reaching it means a stale or hand-written JSON.
      const rule = rules.find((r) => r.notify.includes(id));
      throw new Error(`rule \`${rule?.id ?? '?'}\` notifies unknown route \`${id}\` (in ${manifest.source})`);
    }
  }
  return manifest.routes.filter((route) => used.has(route.id));
}

export function routeConfig(route: Route): RouteConfig {
  switch (route.type) {
    case 'sns':
      return { type: 'sns', route: route.id, topic_name: routeTopicName(route.id) };
    case 'slack':
    case 'pagerduty':
      return { type: route.type, route: route.id, secret: route.secret };
    case 'webhook':
      return { type: 'webhook', route: route.id, url: route.url, ...(route.secret === undefined ? {} : { secret: route.secret }) };
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

export function handlerConfig(manifest: Manifest, handler: string): HandlerConfig {
  const rules = handlerRules(manifest, handler);
  const feeds: Record<string, string[]> = {};
  for (const cover of manifest.covers.feeds[handler] ?? []) {
    feeds[cover.id] = [...cover.rules];
  }
  const schedules: Record<string, string[]> = {};
  for (const group of scheduleGroups(rules)) {
    schedules[group.id] = [...group.rules];
  }
  return {
    format_version: CONFIG_FORMAT_VERSION,
    handler,
    rules: [...rules],
    routes: handlerRoutes(manifest, rules).map(routeConfig),
    feeds,
    schedules,
    regions: [...(manifest.deploy?.regions ?? [])],
  };
}

/**
 * Writes the config into a folder laid out as the layer (`patrol/config.json`, which Lambda
 * mounts under `/opt`) and returns the folder. Named by the content's digest, so the same
 * config is the same folder and the same asset hash.
 */
export function writeConfigLayer(config: HandlerConfig): string {
  const json = `${JSON.stringify(config, null, 1)}\n`;
  const digest = createHash('sha256').update(json).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `patrol-config-${config.handler}-${digest}`);
  const file = path.join(dir, 'patrol', 'config.json');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, json);
    fs.renameSync(`${file}.tmp`, file);
  }
  return dir;
}
