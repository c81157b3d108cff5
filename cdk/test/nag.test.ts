import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { NAG_ACKNOWLEDGEMENTS, nagResult } from '../lib/nag-acknowledgements';
import { buildManifestApp, synthManifest } from './app-under-test';

describe('cdk-nag AwsSolutions', () => {
  for (const fixture of ['root-console-login.json', 'mixed.json', 'all-features.json', 'org.json']) {
    it(`has no unacknowledged findings for ${fixture}`, () => {
      const { app } = synthManifest(fixture);
      const report = new AwsSolutionsChecks(app).validateScope(app);
      const findings = report.violations.map(
        (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      );
      expect(findings).toEqual([]);
      expect(report.success).toBe(true);
      expect(nagResult(app)).toMatch(/^cdk-nag AwsSolutions: 0 unacknowledged finding\(s\); \d+ acknowledgement\(s\)/);
    });
  }

  it('fails synthesis on a finding nobody acknowledged', () => {
    const { app, patrol } = buildManifestApp('root-console-login.json');
    const stack = patrol.central;
    new sqs.Queue(stack, 'QueueWithoutPolicy');
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SQS4');
    expect(() => Template.fromStack(stack)).toThrow(/AwsSolutions-SQS4/);
  });

  it('gives a reason for every acknowledgement', () => {
    for (const ack of NAG_ACKNOWLEDGEMENTS) {
      expect(ack.id).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, ack.id).toBeGreaterThan(40);
    }
  });
});
