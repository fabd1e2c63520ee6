/**
 * The ranking score (rank.ts draftScore): the calibrated log-odds that a draft's first line is the line, and the
 * features the ranking computes for a request's drafts on the real embedded model.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine';
import { draftScore, MATCH_CAP, rankDrafts, type RankFeatures } from '../../../src/engine/candidates/rank';
import type { DecodeContext, RawDraft } from '../../../src/engine/decode/decode';

const model = (over: Partial<RankFeatures> = {}): RankFeatures => ({ mean: -1, tokens: 6, line: 'open', ...over });

describe('draftScore', () => {
  it('orders by the model likelihood, and prefers the shorter draft at equal mean', () => {
    expect(draftScore(model({ mean: -0.5 }))).toBeGreaterThan(draftScore(model({ mean: -1 })));
    expect(draftScore(model({ tokens: 4 }))).toBeGreaterThan(draftScore(model({ tokens: 12 })));
  });

  it('weighs a copy by the context it matched, up to the cap', () => {
    const copy = (matchLength: number) => model({ copy: { matchLength, mirror: false, document: true } });
    expect(draftScore(copy(40))).toBeGreaterThan(draftScore(copy(8)));
    expect(draftScore(copy(MATCH_CAP + 30))).toBe(draftScore(copy(MATCH_CAP)));
    // a long exact match outweighs a clearly likelier model draft
    expect(draftScore(copy(MATCH_CAP))).toBeGreaterThan(draftScore(model({ mean: -0.5 })));
  });

  it('prefers a line that closes what it opens over one left open, and that over a broken one', () => {
    expect(draftScore(model({ line: 'closed' }))).toBeGreaterThan(draftScore(model({ line: 'open' })));
    expect(draftScore(model({ line: 'open' }))).toBeGreaterThan(draftScore(model({ line: 'broken' })));
  });

  it('gives nothing to a draft without scored tokens', () => {
    expect(draftScore(model({ tokens: 0 }))).toBe(-Infinity);
    expect(draftScore(model({ mean: -Infinity }))).toBe(-Infinity);
  });
});

describe('rankDrafts without forwards (a large model past its time budget)', () => {
  it('runs no forward: the strategy\'s drafts keep their own scores, a copy only fills a place no model draft takes', async () => {
    const raw = (text: string, lp: number, scored = true): RawDraft => ({ tokens: [1, 2], lps: [lp, lp], logprob: 2 * lp, text, finished: false, ...(scored ? {} : { scored: false }) });
    const site = { text: 'return total', matchLength: MATCH_CAP, path: '' } as never;
    // a context with nothing in it: any forward would throw
    const ctx = {} as DecodeContext;
    const input = {
      model: [raw('return x', -2, false), raw('return y', -0.5, false)],
      copies: [{ raw: raw('return total', 0), site }],
      strategy: 'superposed' as const,
      clean: (t: string) => t,
      dedupe: true,
      keepOrder: false,
      lineBefore: '    ',
      verifyWindow: 64,
      forwards: false,
    };
    const three = await rankDrafts(ctx, { ...input, k: 3 });
    expect(three.map((d) => d.text)).toEqual(['return y', 'return x', 'return total']);
    expect(three[2]!.score).toBe(-Infinity);
    // with as many model drafts as places, the copy is not shown
    expect((await rankDrafts(ctx, { ...input, k: 2 })).map((d) => d.text)).toEqual(['return y', 'return x']);
    // with forwards, the same input needs the model (the verification pass)
    await expect(rankDrafts(ctx, { ...input, k: 3, forwards: true })).rejects.toThrow();
  });
});

describe('ranking on the embedded model', () => {
  it('computes each candidate\'s features from the request and its drafts, and scores with them', async () => {
    const seen: { text: string; score: number; model: boolean; features: RankFeatures }[][] = [];
    const engine = await Engine.load({ device: 'cpu', threads: 1, onRanked: (r) => seen.push(r.map((x) => ({ text: x.draft.text, score: x.draft.score, model: x.model, features: x.features }))) });
    try {
      const prefix = 'function area(r: Rect): number {\n  return (r.right - r.left) * (r.bottom - r.top);\n}\n\nfunction perimeter(r: Rect): number {\n  return 2 * ((r.right';
      const res = await engine.complete({ prefix, suffix: '\n}\n', languageId: 'typescript', path: 'geo.ts', strategy: 'superposed', k: 3, maxTokens: 24, mode: 'line', speculative: false });
      expect(seen).toHaveLength(1);
      const ranked = seen[0]!;
      // best first; the k shown are the best, a copy giving way to the strategy's best draft only past k - 1 copies
      for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1]!.score).toBeGreaterThanOrEqual(ranked[i]!.score);
      const expected: string[] = [];
      let copies = 0;
      for (const r of ranked) {
        if (expected.length === 3) break;
        if (!r.model && copies === 2 && ranked.some((x) => x.model)) continue;
        if (!r.model) copies++;
        expected.push(r.text);
      }
      expect(res.drafts.map((d) => d.text)).toEqual(expected);
      for (const d of res.drafts) expect(ranked.find((r) => r.text === d.text)?.score).toBe(d.score);
      // the line above is copied: the context `r.right` matched, and its brackets are rebalanced to close the `((`
      const copy = ranked.find((r) => r.features.copy && !r.model);
      expect(copy?.features.copy).toMatchObject({ mirror: false, document: true });
      expect(copy!.features.copy!.matchLength).toBeGreaterThanOrEqual(8);
      expect(copy!.features.line).toBe('closed');
      // the line's shape from its parentheses (the only brackets here, no strings): open, closed or broken
      for (const r of ranked) {
        const line = '  return 2 * ((r.right' + r.text.split('\n')[0];
        if (/[[\]{}'"`]/.test(line)) continue;
        let depth = 0;
        let broken = false;
        for (const c of line) if ((depth += c === '(' ? 1 : c === ')' ? -1 : 0) < 0) broken = true;
        expect(r.features.line, r.text).toBe(broken ? 'broken' : depth > 0 ? 'open' : 'closed');
      }
    } finally {
      await engine.dispose();
    }
  });
});
