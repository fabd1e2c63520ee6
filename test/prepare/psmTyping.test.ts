/** Typing on a PSM prompt (anchor.ts) on a prepared replica: the prompt is kept, the typed text is generated. */
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { readModelConfig } from '../../src/engine/model/config';
import { Tokenizer } from '../../src/engine/model/tokenizer';
import { buildPrompt } from '../../src/engine/prompt/prompt';
import { prepareModel } from '../../src/prepare/prepare';
import { copyFixture, removeFixtures } from './replicas';

afterAll(removeFixtures);

describe('typing on a PSM prompt (anchor.ts): the prompt is kept, the typed text is generated', () => {
  it('qwen2: typing the first character of the greedy draft computes no prompt token, and greedy goes on with the same draft', async () => {
    const dir = copyFixture('qwen2');
    prepareModel(dir);
    const engine = await Engine.load({ modelDir: dir, device: 'cpu' });
    try {
      const req = { prefix: 'function add(a, b) {\n  return a', suffix: ';\n}\n\nfunction sub(a, b) {\n  return a - b;\n}\n', k: 1, maxTokens: 8, mode: 'line' as const, speculative: true, languageId: 'javascript', path: 'a.js', ignoreStop: true, strategy: 'greedy' as const };
      // PSM: a prompt built afresh for the typed text changes before the suffix.
      const cfg = readModelConfig(dir);
      const tok = Tokenizer.load(cfg.tokenizerFile);
      const fresh = [buildPrompt(tok, cfg, req).ids, buildPrompt(tok, cfg, { ...req, prefix: req.prefix + ' ' }).ids];
      let same = 0;
      while (fresh[0]![same] === fresh[1]![same]) same++;
      expect(fresh[0]!.length - same).toBeGreaterThan(10);

      const cold = await engine.complete(req);
      const text = cold.drafts[0]!.text;
      const typedChar = [...text][0]!;
      const typed = await engine.complete({ ...req, prefix: req.prefix + typedChar });
      expect(typed.timing.typedChars).toBe(typedChar.length);
      expect(typed.timing.prefillTokens).toBe(0);
      expect(typed.timing.reusedTokens).toBe(cold.timing.prefillTokens + cold.timing.reusedTokens);
      expect(typed.drafts[0]!.text).toBe(text.slice(typedChar.length));
      // Greedy again with the previous draft recycled: fewer forwards than the cold request's 8 steps.
      expect(typed.timing.forwards).toBeLessThan(cold.timing.forwards);
    } finally {
      await engine.dispose();
    }
  });
});
