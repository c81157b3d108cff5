import { describe, expect, it } from 'vitest';
import { readFixture, synthManifest, writeTempManifest } from './app-under-test';

/** Every resource's logical id with its type, which a replacement would change. */
function resourceIds(manifestPath: string): Record<string, string> {
  const resources = synthManifest(manifestPath).template.toJSON().Resources as Record<string, { Type: string }>;
  return Object.fromEntries(Object.entries(resources).map(([id, r]) => [id, r.Type]));
}

describe('logical ids', () => {
  for (const fixture of ['mixed.json', 'all-features.json']) {
    it(`do not change when rules and routes are reordered (${fixture})`, () => {
      const manifest = readFixture(fixture);
      const reordered = writeTempManifest({
        ...manifest,
        rules: [...manifest.rules].reverse(),
        routes: [...manifest.routes].reverse(),
      });
      expect(resourceIds(reordered)).toEqual(resourceIds(fixture));
    });
  }

  it('of a rule do not change when another rule is removed', () => {
    const manifest = readFixture('mixed.json');
    const withoutFirst = writeTempManifest({ ...manifest, rules: manifest.rules.slice(1) });
    const all = resourceIds('mixed.json');
    const fewer = resourceIds(withoutFirst);
    for (const [id, type] of Object.entries(fewer)) {
      expect(all[id], id).toBe(type);
    }
    expect(Object.keys(fewer).some((id) => id.startsWith('Rulerootconsolelogin'))).toBe(false);
  });
});
