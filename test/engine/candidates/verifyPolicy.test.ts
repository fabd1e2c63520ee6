/**
 * The verification policy's decision (verifyPolicy.ts) on the costs measured for the two model sizes, and the cost
 * meter that feeds it (medians: one outlier does not swing a decision).
 */
import { describe, expect, it } from 'vitest';
import { VERIFY_MAX_TOKENS } from '../../../src/engine/candidates/rank';
import { ForwardCostMeter } from '../../../src/engine/model/costMeter';
import { VERIFY_POLICY, verifyCostMs, verifyTokenCount } from '../../../src/engine/candidates/verifyPolicy';

describe('verification policy', () => {
  it('scores every token the pass allows on a small model (the embedded one: ~1 ms steps)', () => {
    const small = { stepMs: 1.2, rowMs: 0.15 };
    expect(verifyTokenCount(3, 48, 60, small)).toBe(VERIFY_MAX_TOKENS);
    expect(verifyTokenCount(4, 48, 60, small)).toBe(VERIFY_MAX_TOKENS);
    // a 3-token draft is scored whole, never padded beyond its length
    expect(verifyTokenCount(4, 3, 60, small)).toBe(3);
  });

  it('keeps the pass within its share of decoding on a real-size model (Qwen2.5-0.5B q4: ~50 ms steps)', () => {
    const real = { stepMs: 48, rowMs: 7 };
    const decodeMs = 32 * 50;
    const t = verifyTokenCount(4, 32, decodeMs, real);
    expect(t).toBeGreaterThanOrEqual(1);
    expect(t).toBeLessThan(VERIFY_MAX_TOKENS);
    expect(verifyCostMs(4, t, real)).toBeLessThanOrEqual(Math.max(VERIFY_POLICY.freeMs, VERIFY_POLICY.share * decodeMs));
    // one more token per draft would not fit
    expect(verifyCostMs(4, t + 1, real)).toBeGreaterThan(VERIFY_POLICY.share * decodeMs);
  });

  it('never goes below 2 tokens (the first token alone ranks worse than no verification), and grows with the decoding time', () => {
    const slow = { stepMs: 400, rowMs: 60 };
    expect(verifyTokenCount(4, 32, 1000, slow)).toBe(2);
    expect(verifyTokenCount(4, 1, 1000, slow)).toBe(1); // a one-token draft: the free first token is all there is
    expect(verifyCostMs(4, 1, slow)).toBe(0);
    const real = { stepMs: 48, rowMs: 7 };
    const counts = [400, 1600, 6400, 25600].map((ms) => verifyTokenCount(4, 64, ms, real));
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
    expect(counts.at(-1)).toBe(VERIFY_MAX_TOKENS);
  });

  it('the cost meter reports medians, nothing before a decoding step, and a row guess before any scoring pass', () => {
    const m = new ForwardCostMeter();
    expect(m.estimate()).toBeUndefined();
    m.recordRows(10, 100); // ignored: no step measured yet
    for (const ms of [50, 48, 900, 52, 49]) m.recordStep(ms);
    expect(m.estimate()).toEqual({ stepMs: 50, rowMs: 12.5 });
    for (const ms of [120, 3000, 130]) m.recordRows(10, ms);
    expect(m.estimate()!.rowMs).toBe(8);
  });
});
