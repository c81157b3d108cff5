/**
 * One test per AWS quota: a manifest (or a construct added to the app) that breaches it
 * makes synth fail with a message naming the rules involved.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { Cover, Manifest, Rule } from '../lib/manifest';
import { QUOTAS } from '../lib/quotas';
import { buildManifestApp, readFixture, writeTempManifest } from './app-under-test';

const base = readFixture('root-console-login.json');
const template = base.rules[0] as Rule;

function eventRule(id: string): Rule {
  return { ...template, id };
}

function cover(id: string, pattern: Record<string, unknown>, rules: string[]): Cover {
  return { id, pattern, include_read_only: false, rules };
}

/** A manifest whose `notify` feeds are `feeds` (one rule per feed). */
function withFeeds(feeds: Cover[]): Manifest {
  return {
    ...base,
    rules: feeds.flatMap((f) => f.rules.map(eventRule)),
    covers: { forwarding: [], feeds: { notify: feeds } },
  };
}

function synthError(manifest: Manifest): string {
  const { patrol } = buildManifestApp(writeTempManifest(manifest));
  try {
    Template.fromStack(patrol.central);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('synth did not fail');
}

describe('quota checks at synth', () => {
  it(`fails on an event pattern over ${QUOTAS.patternCharacters} characters, naming its rules`, () => {
    const long = { source: ['aws.iam'], detail: { eventName: Array.from({ length: 200 }, (_, i) => `Event${i}Name`) } };
    const error = synthError(withFeeds([cover('iam', long, ['big-rule'])]));
    expect(error).toMatch(/patrol-feed-notify-iam \(rules: big-rule\): its pattern has \d+ characters; EventBridge allows 2048/);
  });

  it(`fails on more than ${QUOTAS.wildcardRulesPerBus} rules using wildcard on one bus`, () => {
    const feeds = Array.from({ length: 31 }, (_, i) =>
      cover(`w${i}`, { detail: { eventName: [{ wildcard: `Put*${i}` }] } }, [`wild-${i}`]),
    );
    expect(synthError(withFeeds(feeds))).toMatch(
      /31 EventBridge rules on bus patrol-central use `wildcard`; EventBridge allows 30 per bus and this limit cannot be raised: .*wild-0/,
    );
  });

  it(`fails on more than ${QUOTAS.rulesPerBus} rules on one bus`, () => {
    const feeds = Array.from({ length: 301 }, (_, i) => cover(`c${i}`, { detail: { eventName: [`E${i}`] } }, [`r-${i}`]));
    expect(synthError(withFeeds(feeds))).toMatch(/30\d EventBridge rules on bus patrol-central in stack patrol-central; EventBridge allows 300/);
  });

  it(`fails on more than ${QUOTAS.resourcesPerStack} resources in a stack`, () => {
    // Each sns route is a key, a topic, its policy and a subscription.
    const routes = Array.from({ length: 130 }, (_, i) => ({
      id: `team-${i}`,
      type: 'sns' as const,
      email: [`t${i}@example.com`],
      https: [],
    }));
    const manifest: Manifest = {
      ...base,
      routes,
      rules: [{ ...template, notify: routes.map((r) => r.id) }],
      covers: { forwarding: [], feeds: { notify: [cover('signin', { source: ['aws.signin'] }, [template.id])] } },
    };
    expect(synthError(manifest)).toMatch(/stack patrol-central has \d+ resources; CloudFormation allows 500 per stack. Most are \d+ AWS::/);
  });

  it(`fails when a function's environment passes ${QUOTAS.environmentBytes} bytes`, () => {
    const { patrol } = buildManifestApp('root-console-login.json');
    patrol.central.functions.get('notify')?.function.addEnvironment('EXTRA', 'x'.repeat(4200));
    expect(() => Template.fromStack(patrol.central)).toThrow(/its environment takes about \d+ bytes; Lambda allows 4096/);
  });

  it(`fails when a function's resource policy passes ${QUOTAS.resourcePolicyBytes} bytes`, () => {
    const rules: Rule[] = Array.from({ length: 60 }, (_, i) => ({
      ...template,
      id: `topic-${i}`,
      trigger: { type: 'sns', topic_arn: `arn:aws:sns:us-east-1:111111111111:alarms-${i}` },
    }));
    const manifest: Manifest = { ...base, rules, covers: { forwarding: [], feeds: {} } };
    expect(synthError(manifest)).toMatch(/invoke permissions, about \d+ bytes of resource policy; Lambda allows 20480. 60 of them are SNS topics/);
  });
});
