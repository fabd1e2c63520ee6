/**
 * The cold path: a prefill in chunks gives the one-shot prefill's logits (real onnxruntime, the embedded model), a
 * cancellation between chunks stops it and keeps the chunks computed for the next request, and the chunk size and prompt budget
 * follow the measured prefill speed (coldPath.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLD_PATH, prefillChunkTokens, promptBudgetScale, scaleBudget } from '../../../src/engine/prompt/coldPath';
import { readModelConfig } from '../../../src/engine/model/config';
import { defaultModelDir } from '../../../src/engine/engine';
import { PromptCache } from '../../../src/engine/model/promptCache';
import { DEFAULT_BUDGET } from '../../../src/engine/prompt/prompt';
import { ModelRuntime } from '../../../src/engine/model/runtime';

let rt: ModelRuntime;
const tokens = Array.from({ length: 300 }, (_, i) => 10 + ((i * 7919) % 4000));

beforeAll(async () => {
  rt = await ModelRuntime.load(readModelConfig(defaultModelDir()), { device: 'cpu', threads: 1 });
});
afterAll(async () => {
  await rt.dispose();
});

describe('chunked prefill', () => {
  it('equals the one-shot prefill: same last logits, same cache length and positions', async () => {
    const one = await new PromptCache(rt, 4, 256 * 1024 * 1024, 1024).prefill(tokens);
    const forwards = rt.forwards;
    const chunked = await new PromptCache(rt, 4, 256 * 1024 * 1024, 64).prefill(tokens);
    expect(rt.forwards - forwards).toBe(Math.ceil(tokens.length / 64));
    expect(chunked.kv.length).toBe(one.kv.length);
    expect(chunked.kv.nextPos).toBe(one.kv.nextPos);
    let maxDiff = 0;
    for (let i = 0; i < one.lastLogits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(one.lastLogits[i]! - chunked.lastLogits[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
    // and the argmax agrees
    const argmax = (a: Float32Array) => a.reduce((b, v, i) => (v > a[b]! ? i : b), 0);
    expect(argmax(chunked.lastLogits)).toBe(argmax(one.lastLogits));
  });

  it('a cancellation between chunks stops it; the chunks computed stay cached and the next request continues from them', async () => {
    const cache = new PromptCache(rt, 4, 256 * 1024 * 1024, 64);
    const ac = new AbortController();
    const forward = rt.forward.bind(rt);
    let calls = 0;
    rt.forward = async (input) => {
      const out = await forward(input);
      if (++calls === 2) ac.abort(); // the user typed while the second chunk ran
      return out;
    };
    try {
      await expect(cache.prefill(tokens, ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      rt.forward = forward;
    }
    expect(calls).toBe(2);
    expect(cache.stats.entries).toBe(1);
    // the next keystroke's prompt (the same prompt and a typed token) continues after the two chunks
    const again = await cache.prefill([...tokens, 4001]);
    expect(again.reused).toBe(128);
    expect(again.computed).toBe(tokens.length + 1 - 128);
    const fresh = await new PromptCache(rt, 4, 256 * 1024 * 1024, 1024).prefill([...tokens, 4001]);
    let maxDiff = 0;
    for (let i = 0; i < fresh.lastLogits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fresh.lastLogits[i]! - again.lastLogits[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('chunks shrink on a slow device and stay whole on a fast one', () => {
    expect(prefillChunkTokens(NaN, 512)).toBe(COLD_PATH.firstChunk); // unmeasured: a short forward measures it
    expect(prefillChunkTokens(0.02, 512)).toBe(512); // embedded model
    const slow = prefillChunkTokens(7.4, 512); // Qwen2.5-0.5B q4 on 2 busy cores
    expect(slow).toBeGreaterThanOrEqual(COLD_PATH.minChunk);
    expect(slow * 7.4).toBeLessThanOrEqual(Math.max(COLD_PATH.chunkMs, COLD_PATH.minChunk * 7.4));
    expect(prefillChunkTokens(100, 512)).toBe(COLD_PATH.minChunk);
  });

  it('the prompt budget halves until a cold prefill fits the target, down to its floor', () => {
    const total = DEFAULT_BUDGET.prefixTokens + DEFAULT_BUDGET.suffixTokens + DEFAULT_BUDGET.snippetTokens;
    expect(promptBudgetScale(NaN, total)).toBe(COLD_PATH.minScale); // unmeasured large model: start small
    expect(promptBudgetScale(0.3, total)).toBe(1); // embedded model under load
    const s = promptBudgetScale(7.4, total);
    expect(s).toBeLessThan(1);
    expect(s).toBeGreaterThanOrEqual(COLD_PATH.minScale);
    expect(promptBudgetScale(1000, total)).toBe(COLD_PATH.minScale);
    // hysteresis: a measurement near a boundary keeps the scale in use (each change re-prefills the whole prompt)
    const at = (scale: number) => COLD_PATH.coldTargetMs / (total * scale); // ms per token at which `scale` just fits
    expect(promptBudgetScale(at(0.5) * 1.1, total)).toBe(0.25);
    expect(promptBudgetScale(at(0.5) * 1.1, total, COLD_PATH, 0.5)).toBe(0.5);
    expect(promptBudgetScale(at(0.5) * 1.5, total, COLD_PATH, 0.5)).toBe(0.25);
    expect(promptBudgetScale(at(0.5) * 1.05, total, COLD_PATH, 0.25)).toBe(0.25);
    expect(promptBudgetScale(at(0.5) * 0.95, total, COLD_PATH, 0.25)).toBe(0.5);
    expect(promptBudgetScale(at(0.5) * 0.95, total, COLD_PATH, 0.5)).toBe(0.5); // and stays
    expect(promptBudgetScale(NaN, total, COLD_PATH, 0.5)).toBe(0.5);
    expect(scaleBudget(DEFAULT_BUDGET, 1)).toBe(DEFAULT_BUDGET);
    expect(scaleBudget(DEFAULT_BUDGET, 0.5).prefixTokens).toBe(DEFAULT_BUDGET.prefixTokens / 2);
  });
});
