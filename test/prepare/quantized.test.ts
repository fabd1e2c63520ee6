/** The engine on the prepared quantized variants of the replicas (fp16, int8, q4, q4g). */
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { prepareModel } from '../../src/prepare/prepare';
import { copyFixture, removeFixtures } from './replicas';

afterAll(removeFixtures);

describe('model prepare: the engine runs on the prepared quantized variants', () => {
  for (const variant of ['fp16', 'int8', 'q4g']) {
    it(`qwen2 ${variant}: every strategy runs; superposed k=1 equals greedy`, async () => {
      const dir = copyFixture('qwen2-quantized');
      prepareModel(dir);
      const engine = await Engine.load({ modelDir: dir, device: 'cpu', variant });
      try {
        expect(engine.info.superposition).toBe(true);
        const req = { prefix: 'def f(x):\n    return ', suffix: '', k: 2, maxTokens: 6, mode: 'line' as const, speculative: false, languageId: 'python', path: 'a.py', seed: 3, ignoreStop: true };
        for (const strategy of ['greedy', 'beam', 'sampling', 'superposed'] as const) expect((await engine.complete({ ...req, strategy })).drafts.length, strategy).toBeGreaterThan(0);
        const g = await engine.complete({ ...req, strategy: 'greedy', k: 1 });
        const s = await engine.complete({ ...req, strategy: 'superposed', k: 1 });
        expect(s.drafts[0]?.text).toBe(g.drafts[0]?.text);
      } finally {
        await engine.dispose();
      }
    });
  }
});
