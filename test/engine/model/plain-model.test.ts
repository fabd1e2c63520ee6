/**
 * A model in the plain Hugging Face Optimum decoder layout (rank-2 input_ids, no superposition input): the
 * engine runs greedy, beam and sampling on it and refuses `superposed` with a clear message.
 * The fixture is a tiny random decoder made by training/make_plain_fixture.py (its drafts are noise).
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine';
import { FIXTURES } from '../../helpers/paths';

let engine: Engine;
const dir = path.join(FIXTURES, 'plain-model');

beforeAll(async () => {
  engine = await Engine.load({ modelDir: dir, device: 'cpu' });
});
afterAll(async () => {
  await engine?.dispose();
});

describe('plain Optimum decoder', () => {
  it('loads without superposition and without a FIM block', () => {
    expect(engine.info.superposition).toBe(false);
    expect(engine.info.device).toBe('cpu');
  });

  it('runs greedy, beam and sampling', async () => {
    for (const strategy of ['greedy', 'beam', 'sampling'] as const) {
      const res = await engine.complete({ prefix: 'function add(a, b) {\n  return ', suffix: '', strategy, k: 3, maxTokens: 8, mode: 'line', speculative: true, languageId: 'javascript', path: 'a.js', seed: 7, ignoreStop: true });
      expect(res.strategy).toBe(strategy);
      expect(res.timing.forwards, strategy).toBeGreaterThan(0);
      expect(res.drafts.length, strategy).toBeGreaterThan(0);
      for (const d of res.drafts) expect(d.tokens, strategy).toBeGreaterThan(0);
    }
  });

  it('refuses superposed with k > 1 naming the missing input', async () => {
    await expect(
      engine.complete({ prefix: 'x = ', suffix: '', strategy: 'superposed', k: 3, maxTokens: 8, mode: 'line', speculative: false, languageId: 'python', path: 'a.py' }),
    ).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/no superposition input \(token_weights\)/) });
  });
});
