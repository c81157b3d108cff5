/**
 * 1,000 rules on default AWS quotas: a generated manifest synthesizes (with the real
 * `patrol` computing the covers) into stacks that each fit CloudFormation and EventBridge,
 * and adding, removing or reordering rules replaces no other rule's resources.
 */
import * as fs from 'node:fs';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PATROL_BIN } from '../lib/paths';
import { QUOTAS } from '../lib/quotas';
import { synthManifest } from './app-under-test';
import { generatedRules, writeGeneratedManifest } from './generated-manifest';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

function synthRules(rules: readonly string[]): { templates: Record<string, Resources>; stackSet: Record<string, unknown> } {
  const { patrol } = synthManifest(writeGeneratedManifest(rules), {}, DEFAULT_PATROL_BIN);
  const stacks: Stack[] = [patrol.central, ...patrol.forwarders.central, ...patrol.forwarders.management];
  if (patrol.organization) {
    stacks.push(patrol.organization);
  }
  const templates: Record<string, Resources> = {};
  for (const stack of stacks) {
    templates[stack.artifactId] = Template.fromStack(stack).toJSON().Resources as Resources;
  }
  if (patrol.organization) {
    templates.member = (JSON.parse(patrol.organization.templateBody) as { Resources: Resources }).Resources;
  }
  const stackSet = Object.values(templates.PatrolOrganization ?? {}).find((r) => r.Type === 'AWS::CloudFormation::StackSet');
  return { templates, stackSet: stackSet?.Properties ?? {} };
}

/** Logical id → type, over every template. */
function ids(templates: Record<string, Resources>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [stack, resources] of Object.entries(templates)) {
    for (const [id, r] of Object.entries(resources)) {
      out.set(`${stack}/${id}`, r.Type);
    }
  }
  return out;
}

describe.runIf(fs.existsSync(DEFAULT_PATROL_BIN))('1,000 rules', () => {
  const rules = generatedRules(1000);
  const { templates, stackSet } = synthRules(rules);

  it('fit every stack and bus on default quotas', () => {
    for (const [stack, resources] of Object.entries(templates)) {
      expect(Object.keys(resources).length, stack).toBeLessThanOrEqual(QUOTAS.resourcesPerStack);
      const eventRules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule');
      expect(eventRules.length, stack).toBeLessThanOrEqual(QUOTAS.rulesPerBus);
      for (const rule of eventRules) {
        const pattern = rule.Properties?.EventPattern;
        if (pattern !== undefined) {
          const text = JSON.stringify(pattern);
          expect(text.length, `${stack} ${String(rule.Properties?.Name)}`).toBeLessThanOrEqual(QUOTAS.patternCharacters);
          expect(text, 'covers never use wildcard').not.toContain('"wildcard"');
        }
      }
    }
    const central = templates.PatrolCentral!;
    // one function for all of them (and one for their webhooks), a few dozen feeds
    expect(Object.values(central).filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(2);
    const feeds = Object.values(central).filter((r) => String(r.Properties?.Name ?? '').startsWith('patrol-feed-'));
    expect(feeds.length).toBeGreaterThan(10);
    expect(feeds.length).toBeLessThan(150);
  });

  it('give the StackSet a member template over 51,200 bytes from S3 (TemplateURL), under 1 MB', () => {
    const size = JSON.stringify({ Resources: templates.member }).length;
    expect(size).toBeGreaterThan(51_200);
    expect(size).toBeLessThan(1_000_000);
    expect(stackSet.TemplateBody).toBeUndefined();
    expect(JSON.stringify(stackSet.TemplateURL)).toMatch(/cdk-[a-z0-9]+-assets-/);
  });

  it('keep a small ruleset\'s member template inline (TemplateBody)', () => {
    const small = synthRules(rules.slice(0, 30)).stackSet;
    expect(typeof small.TemplateBody).toBe('string');
    expect(small.TemplateURL).toBeUndefined();
  });

  it('change no logical id when rules are reordered', () => {
    const reordered = synthRules([...rules].reverse()).templates;
    expect(ids(reordered)).toEqual(ids(templates));
  });

  it('replace no other rule\'s resources when a rule is added or removed', () => {
    const all = ids(templates);
    // Remove one rule from the middle and add a new one at the end.
    const changed = ids(synthRules([...rules.slice(0, 500), ...rules.slice(501), ...generatedRules(1001).slice(1000)]).templates);
    const removed = [...all.keys()].filter((id) => !changed.has(id));
    const added = [...changed.keys()].filter((id) => !all.has(id));
    // Only feeds and forwarding rules of a cover that appeared or vanished may come and go.
    const coverResource = /\/(HandlernotifyTriggersFeed|ForwardingForward)/;
    expect(removed.filter((id) => !coverResource.test(id))).toEqual([]);
    expect(added.filter((id) => !coverResource.test(id))).toEqual([]);
    for (const [id, type] of changed) {
      if (all.has(id)) {
        expect(all.get(id), id).toBe(type);
      }
    }
  });
});
