/** The real engine on prepared replicas of every family: every strategy runs. */
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { prepareModel } from '../../src/prepare/prepare';
import { FAMILIES, copyFixture, removeFixtures } from './replicas';

afterAll(removeFixtures);

describe('model prepare: the engine runs every strategy on a prepared replica', () => {
  for (const family of FAMILIES) {
    it(`${family}: greedy, beam, sampling, superposed; superposed k=1 equals greedy; no special token text in a draft`, async () => {
      const dir = copyFixture(family);
      prepareModel(dir);
      const engine = await Engine.load({ modelDir: dir, device: 'cpu' });
      try {
        expect(engine.info.superposition).toBe(true);
        const req = { prefix: 'function add(a, b) {\n  return ', suffix: '\n}\n', k: 3, maxTokens: 8, mode: 'line' as const, speculative: false, languageId: 'javascript', path: 'a.js', seed: 7, ignoreStop: true };
        for (const strategy of ['greedy', 'beam', 'sampling', 'superposed'] as const) {
          const res = await engine.complete({ ...req, strategy });
          expect(res.drafts.length, strategy).toBeGreaterThan(0);
          for (const d of res.drafts) expect(d.text, strategy).not.toMatch(/<\||\|>|<fim_|<｜|<PRE>|<SUF>|<MID>|<EOT>|<\/s>/);
        }
        const g = await engine.complete({ ...req, strategy: 'greedy', k: 1 });
        const s = await engine.complete({ ...req, strategy: 'superposed', k: 1 });
        expect(s.drafts[0]?.text).toBe(g.drafts[0]?.text);
      } finally {
        await engine.dispose();
      }
    });
  }
});
