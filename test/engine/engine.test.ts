/**
 * Engine properties on the real embedded model through the real onnxruntime-node.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionRequest } from '../../src/protocol';
import { Engine, EngineError, validateRequest } from '../../src/engine/engine';
import { PromptCache } from '../../src/engine/model/promptCache';
import { draftScore, type RankFeatures } from '../../src/engine/candidates/rank';
import { loadDevCases, sourceCases } from './cases';

let engine: Engine;

beforeAll(async () => {
  // SUPERDRAFT_MODEL_DIR runs the same properties on another model directory (default: the embedded model).
  engine = await Engine.load({ device: 'cpu', modelDir: process.env.SUPERDRAFT_MODEL_DIR });
});
afterAll(async () => {
  await engine?.dispose();
});

const base = (over: Partial<CompletionRequest>): CompletionRequest => ({
  prefix: '',
  suffix: '',
  languageId: 'typescript',
  path: 'src/example.ts',
  strategy: 'greedy',
  k: 1,
  maxTokens: 24,
  mode: 'line',
  speculative: false,
  ...over,
});

const texts = async (req: CompletionRequest): Promise<string[]> => (await engine.complete(req)).drafts.map((d) => d.text);

describe('engine on the embedded model', () => {
  const cases = sourceCases(12);

  it('completes code: greedy returns one non-empty draft for a typical prefix', async () => {
    const res = await engine.complete(base({ prefix: 'import * as path from "node:path";\n\nexport function join(a: string, b: string): string {\n  return ', suffix: '\n}\n' }));
    expect(res.drafts).toHaveLength(1);
    expect(res.drafts[0].text.length).toBeGreaterThan(0);
    expect(res.drafts[0].strategy).toBe('greedy');
    expect(res.timing.forwards).toBeGreaterThan(0);
  });

  it('superposed with k=1 equals greedy', async () => {
    for (const c of cases) {
      const g = await texts(base({ prefix: c.prefix, suffix: c.suffix, strategy: 'greedy' }));
      const s = await texts(base({ prefix: c.prefix, suffix: c.suffix, strategy: 'superposed', k: 1 }));
      expect(s, c.id).toEqual(g);
    }
  });

  it("superposed with k=3 runs the model's argmax chain as its lead draft: greedy's draft is a candidate, scored as greedy scores it", async () => {
    let ranked: { text: string; features: RankFeatures; model: boolean }[] = [];
    const probe = await Engine.load({
      device: 'cpu',
      modelDir: process.env.SUPERDRAFT_MODEL_DIR,
      onRanked: (r) => (ranked = r.map((x) => ({ text: x.draft.text, features: x.features, model: x.model }))),
    });
    try {
      let checked = 0;
      for (const c of cases) {
        const g = (await engine.complete(base({ prefix: c.prefix, suffix: c.suffix, strategy: 'greedy' }))).drafts[0];
        if (!g) continue;
        ranked = [];
        await probe.complete(base({ prefix: c.prefix, suffix: c.suffix, strategy: 'superposed', k: 3 }));
        const lead = ranked.find((r) => r.model && r.text === g.text);
        expect(lead, `${c.id}: greedy's ${JSON.stringify(g.text)} among ${JSON.stringify(ranked.map((r) => r.text))}`).toBeDefined();
        // its log-probabilities are the model's on the whole prompt, as greedy's are (not a verification's); greedy
        // carries no copy evidence, the lead does when a copy has its text
        expect(draftScore({ ...lead!.features, copy: undefined }), c.id).toBeCloseTo(g.score, 3);
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(cases.length - 2);
    } finally {
      await probe.dispose();
    }
  });

  it('beam with k=1 equals greedy', async () => {
    for (const c of cases) {
      const g = await texts(base({ prefix: c.prefix, suffix: c.suffix, strategy: 'greedy' }));
      const b = await texts(base({ prefix: c.prefix, suffix: c.suffix, strategy: 'beam', k: 1 }));
      expect(b, c.id).toEqual(g);
    }
  });

  it('accelerated greedy equals greedy on every case (source cases and the shared dev cases)', async () => {
    const all = [...sourceCases(40), ...loadDevCases()];
    let accepted = 0;
    for (const c of all) {
      const req = base({ prefix: c.prefix, suffix: c.suffix, path: c.path, languageId: c.language, maxTokens: 32, mode: 'auto' });
      const plain = await engine.complete({ ...req, speculative: false });
      const fast = await engine.complete({ ...req, speculative: true });
      expect(fast.drafts.map((d) => d.text), c.id).toEqual(plain.drafts.map((d) => d.text));
      accepted += fast.timing.acceptedSpeculative;
    }
    // The acceleration must actually engage somewhere on real code, or this test proves nothing.
    expect(accepted).toBeGreaterThan(0);
  }, 900_000);

  it('sampling with a fixed seed reproduces, and k drafts come back', async () => {
    const req = base({ prefix: cases[0].prefix, suffix: cases[0].suffix, strategy: 'sampling', k: 4, seed: 1234, temperature: 1, topP: 0.95 });
    const a = await engine.complete(req);
    const b = await engine.complete(req);
    expect(a.drafts.map((d) => d.text)).toEqual(b.drafts.map((d) => d.text));
    expect(a.drafts.length).toBeGreaterThan(0);
    expect(a.drafts.length).toBeLessThanOrEqual(4);
  });

  it('superposed and beam return up to k distinct drafts ranked by score', async () => {
    for (const strategy of ['superposed', 'beam'] as const) {
      const res = await engine.complete(base({ prefix: cases[1].prefix, suffix: cases[1].suffix, strategy, k: 4 }));
      const t = res.drafts.map((d) => d.text.trim());
      expect(new Set(t).size, strategy).toBe(t.length);
      expect(t.length, strategy).toBeGreaterThan(1);
      for (let i = 1; i < res.drafts.length; i++) expect(res.drafts[i - 1].score).toBeGreaterThanOrEqual(res.drafts[i].score);
    }
  });


  it('fixed-length benchmark requests (ignoreStop) decode exactly maxTokens tokens per draft, end tokens included', async () => {
    // Tiny or finished files, and fill-in-the-middle prompts whose middle is already complete: the model soon
    // predicts their end, an end token, then more tokens.
    const prompts: [string, string][] = [
      ['x', ''],
      ['int main(void) {\n  return 0;\n}\n', ''],
      ['int main(void) {\n  return 0', ';\n}\n'],
      ['int x = 1', ';\n'],
    ];
    const req = ([prefix, suffix]: [string, string], strategy: CompletionRequest['strategy'], maxTokens = 24) =>
      base({ prefix, suffix, languageId: 'c', path: 'a.c', strategy, k: strategy === 'greedy' ? 1 : 4, seed: 1, maxTokens, ignoreStop: true });
    let chainsWithEnd = 0;
    for (const prompt of prompts) {
      for (const strategy of ['greedy', 'sampling', 'beam', 'superposed'] as const) {
        const fixed = await engine.complete(req(prompt, strategy));
        expect(fixed.drafts.length, strategy).toBe(strategy === 'greedy' ? 1 : 4);
        for (const d of fixed.drafts) expect(d.tokens, `${strategy} after ${JSON.stringify(prompt)}`).toBe(24);
      }
      // Without stop rules or cleaning each longer greedy request extends the text, except by a token that decodes
      // to no text: a special token, here the end of the file or of the middle.
      const texts: string[] = [];
      for (let n = 1; n <= 24; n++) texts.push((await engine.complete(req(prompt, 'greedy', n))).drafts[0]!.text);
      if (texts.some((t, i) => i > 0 && t === texts[i - 1])) chainsWithEnd++;
    }
    // the checks above did run through end tokens (they are not vacuous)
    expect(chainsWithEnd).toBeGreaterThan(0);
  });

  it('reuses the prompt KV cache after typing one more character, with the logits of a cold run', async () => {
    const c = cases[2];
    const ids = engine.tokenizer.encode(c.prefix);
    const runtime = (engine as unknown as { runtime: ConstructorParameters<typeof PromptCache>[0] }).runtime;
    const warm = new PromptCache(runtime);
    await warm.prefill(ids.slice(0, ids.length - 3));
    const reused = await warm.prefill(ids);
    expect(reused.reused).toBe(ids.length - 3);
    const cold = await new PromptCache(runtime).prefill(ids);
    expect(cold.reused).toBe(0);
    let maxDiff = 0;
    for (let i = 0; i < cold.lastLogits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(cold.lastLogits[i] - reused.lastLogits[i]));
    expect(maxDiff).toBeLessThan(1e-3);

    const r1 = await engine.complete(base({ prefix: c.prefix, suffix: c.suffix }));
    const r2 = await engine.complete(base({ prefix: c.prefix + ' ', suffix: c.suffix }));
    // the second prompt extends the first by one space: all but its last few tokens come from the cache
    expect(r1.timing.prefillTokens + r1.timing.reusedTokens).toBeGreaterThan(0);
    expect(r2.timing.reusedTokens).toBeGreaterThan(r2.timing.prefillTokens);
    expect(r2.timing.prefillTokens).toBeLessThanOrEqual(4);
  });

  it('a spent time budget ends block drafts at their last complete line or, still on the first, word; none leaves them whole', async () => {
    const block = base({
      prefix: 'import os\n\ndef read_lines(path):',
      suffix: '\n',
      languageId: 'python',
      path: 'files.py',
      strategy: 'superposed',
      k: 3,
      maxTokens: 48,
      mode: 'block',
    });
    const full = await engine.complete(block);
    expect(full.timing.budgetCuts).toBeUndefined();
    // 1 ms is spent before the first token: every draft ends at its first word (a complete line comes later).
    const cut = await engine.complete({ ...block, timeBudgetMs: 1 });
    expect(cut.timing.budgetCuts).toBeGreaterThan(0);
    expect(cut.drafts.length).toBeGreaterThan(0);
    for (const d of cut.drafts) {
      expect(d.text.trim().length, JSON.stringify(d.text)).toBeGreaterThan(0);
      expect(d.text.trim().includes('\n'), JSON.stringify(d.text)).toBe(false); // within one line of content
    }
    expect(Math.max(...cut.drafts.map((d) => d.tokens))).toBeLessThan(Math.max(...full.drafts.map((d) => d.tokens)));
    // each cut draft is the opening line of a draft the search would have continued (same model, same prompt)
    // (the prompt is one whose greedy block runs over several lines, so that cutting it is visible)
    const greedyFull = (await engine.complete({ ...block, strategy: 'greedy', k: 1, speculative: false })).drafts[0].text;
    const greedyCut = (await engine.complete({ ...block, strategy: 'greedy', k: 1, speculative: false, timeBudgetMs: 1 })).drafts[0].text;
    expect(greedyFull.startsWith(greedyCut.trimEnd()), `${JSON.stringify(greedyCut)} / ${JSON.stringify(greedyFull)}`).toBe(true);
    expect(greedyFull.trim().includes('\n')).toBe(true);
  });

  it('rejects bad requests with clear errors', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ prefix: 'x', k: 0 }, /"k" must be an integer in 1..16/],
      [{ prefix: 'x', k: 17 }, /"k"/],
      [{ prefix: 'x', maxTokens: 0 }, /"maxTokens"/],
      [{ prefix: 'x', maxTokens: 2000 }, /"maxTokens"/],
      [{ prefix: 'x', strategy: 'topk' }, /unknown strategy/],
      [{ prefix: 'x', mode: 'page' }, /"mode"/],
      [{ prefix: 'x', timeBudgetMs: -5 }, /"timeBudgetMs" must be a number in 0\.\.600000/],
      [{ prefix: 'x', timeBudgetMs: 'soon' }, /"timeBudgetMs"/],
      [{ prefix: 42 }, /"prefix" must be a string/],
      [{}, /"prefix"/],
    ];
    for (const [input, msg] of bad) {
      expect(() => validateRequest(input)).toThrow(msg);
      await expect(engine.complete(input)).rejects.toThrow(EngineError);
    }
  });

  it('handles empty prefix, lone surrogates, special-token text and a huge document sanely', async () => {
    const empty = await engine.complete(base({ prefix: '', suffix: '' }));
    expect(Array.isArray(empty.drafts)).toBe(true);
    const lone = await engine.complete(base({ prefix: 'const s = "\uD800', suffix: '";\n' }));
    expect(Array.isArray(lone.drafts)).toBe(true);
    const special = await engine.complete(base({ prefix: 'const eos = "<|endoftext|><|fim_middle|>";\nconst x = ' }));
    expect(Array.isArray(special.drafts)).toBe(true);
    const line = 'export const value = computeSomething(input, options);\n';
    const huge = line.repeat(Math.ceil((9 * 1024 * 1024) / line.length));
    const t0 = performance.now();
    const res = await engine.complete(base({ prefix: huge + 'export const ', suffix: '\n' + huge }));
    expect(Array.isArray(res.drafts)).toBe(true);
    expect(res.timing.prefillTokens + res.timing.reusedTokens).toBeLessThan(engine.config.maxPositions);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('cancellation stops a request within a decode step', async () => {
    // Abort from inside the 3rd forward pass of a long beam search: the engine must give up before the next one.
    const runtime = (engine as unknown as { runtime: { forward: (...a: unknown[]) => Promise<unknown> } }).runtime;
    const original = runtime.forward;
    const ac = new AbortController();
    let calls = 0;
    let callsAtAbort = 0;
    runtime.forward = async function (this: unknown, ...args: unknown[]) {
      calls++;
      const out = await original.apply(this, args);
      if (calls === 3) {
        ac.abort();
        callsAtAbort = calls;
      }
      return out;
    };
    try {
      const req = base({ prefix: 'x', strategy: 'beam', k: 4, maxTokens: 1024, mode: 'block', ignoreStop: true });
      await expect(engine.complete(req, ac.signal)).rejects.toMatchObject({ code: 'cancelled' });
      expect(callsAtAbort).toBe(3);
      expect(calls).toBe(callsAtAbort);
    } finally {
      runtime.forward = original;
    }
    // The engine stays usable afterwards.
    const after = await engine.complete(base({ prefix: cases[3].prefix }));
    expect(after.drafts.length).toBeGreaterThan(0);
    expect(after.timing.forwards).toBeGreaterThan(0);
  });

  it('reports a missing or corrupt model naming the file', async () => {
    await expect(Engine.load({ modelDir: '/nonexistent/model' })).rejects.toThrow(/model directory not found: \/nonexistent\/model/);
    const { mkdtempSync, writeFileSync, copyFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/sd-corrupt-');
    copyFileSync(`${engine.config.dir}/config.json`, `${dir}/config.json`);
    copyFileSync(engine.config.tokenizerFile, `${dir}/tokenizer.json`);
    const cfg = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
    const file = cfg.superdraft?.onnx?.default ?? 'model.onnx';
    writeFileSync(`${dir}/${file}`, 'this is not an onnx model');
    await expect(Engine.load({ modelDir: dir, device: 'cpu' })).rejects.toThrow(new RegExp(`${dir}/${file}`));
  });
});
