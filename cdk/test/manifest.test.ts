import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest } from '../lib/manifest';
import { DEFAULT_MANIFEST, DEFAULT_PATROL_BIN } from '../lib/paths';
import { FAKE_PATROL, FIXTURES, readFixture, synthManifest, writeTempManifest } from './app-under-test';

describe('loadManifest', () => {
  it('reads a normalized .json manifest as is', () => {
    expect(loadManifest(path.join(FIXTURES, 'root-console-login.json'))).toEqual(readFixture('root-console-login.json'));
  });

  it('runs `patrol manifest --json --manifest <file>` for a rules.toml', () => {
    const manifest = loadManifest(path.join(FIXTURES, 'root-console-login.toml'), { patrolBin: FAKE_PATROL });
    expect(manifest).toEqual(readFixture('root-console-login.json'));
  });

  it('stops with patrol diagnostics when patrol rejects the manifest', () => {
    const broken = path.join(FIXTURES, 'broken.toml');
    expect(() => loadManifest(broken, { patrolBin: FAKE_PATROL })).toThrow(
      /exited with 1; the manifest must be fixed before synth:\nerror\[unknown-sink\]: rule `root-console-login` sends to unknown sink `secuirty`\n {2}--> .*broken\.toml:14:10\n {3}= help: known sinks: security/,
    );
  });

  it('stops synth itself when patrol rejects the manifest', () => {
    expect(() => synthManifest('broken.toml')).toThrow(/error\[unknown-sink\]/);
  });

  it('says how to get the patrol binary when it is missing', () => {
    expect(() =>
      loadManifest(path.join(FIXTURES, 'root-console-login.toml'), { patrolBin: '/nonexistent/patrol' }),
    ).toThrow(/cannot run \/nonexistent\/patrol \(not found; build it with `cargo build -p patrol-cli` or set PATROL_BIN\)/);
  });

  it('rejects a format version it does not know', () => {
    const file = writeTempManifest({ ...readFixture('root-console-login.json'), format_version: 2 });
    expect(() => loadManifest(file)).toThrow(/manifest format_version 2 is not supported by this CDK app/);
  });
});

// The Makefile builds the real binary before the CDK tests; without it (npm test alone) this
// block is skipped and says so.
describe.runIf(fs.existsSync(DEFAULT_PATROL_BIN))('the real patrol binary and rules.toml', () => {
  it('normalizes the shipped rules.toml into a manifest this app synthesizes', { timeout: 240_000 }, () => {
    const manifest = loadManifest(DEFAULT_MANIFEST, { patrolBin: DEFAULT_PATROL_BIN });
    expect(manifest.rules.length).toBeGreaterThan(0);
    const { template } = synthManifest(DEFAULT_MANIFEST, {}, DEFAULT_PATROL_BIN);
    // one function per handler, whatever the number of rules, plus one per handler that
    // has webhook rules (behind the function URL, with its own reserved concurrency)
    const handlers = new Set(manifest.rules.map((r) => r.handler));
    const webhookHandlers = new Set(manifest.rules.filter((r) => r.trigger.type === 'webhook').map((r) => r.handler));
    template.resourceCountIs('AWS::Lambda::Function', handlers.size + webhookHandlers.size);
    // CloudFormation refuses a template with more than 500 resources.
    expect(Object.keys(template.toJSON().Resources as object).length).toBeLessThan(500);
  });

  // Fields patrol adds later do not fail this; a field the fixture has that patrol changed does.
  it('normalizes all-features.toml into (a superset of) the checked-in all-features.json', () => {
    const fromToml = loadManifest(path.join(FIXTURES, 'all-features.toml'), { patrolBin: DEFAULT_PATROL_BIN });
    expect({ ...fromToml, source: 'all-features.toml' }).toMatchObject(readFixture('all-features.json'));
  });

  it('stops with file:line:col diagnostics for a rules.toml patrol rejects', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patrol-cdk-'));
    const broken = path.join(dir, 'rules.toml');
    const shipped = fs.readFileSync(DEFAULT_MANIFEST, 'utf8');
    fs.writeFileSync(broken, `${shipped}\n[rules.unknown-route]\nnotify = ["secuirty"]\n`);
    expect(() => loadManifest(broken, { patrolBin: DEFAULT_PATROL_BIN })).toThrow(
      /exited with 1; the manifest must be fixed before synth:\n(.|\n)*error\[[a-z-]+\]: (.|\n)*--> .*rules\.toml:\d+:\d+/,
    );
  });
});
