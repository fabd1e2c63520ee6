/**
 * The ranking score (rank.ts draftScore): the calibrated log-odds that a draft's first line is the line, and the
 * features the ranking computes for a request's drafts on the real embedded model.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { draftScore, MATCH_CAP, RANK_WEIGHTS, type RankFeatures } from '../../src/engine/rank';

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
    expect(Object.values(RANK_WEIGHTS).every(Number.isFinite)).toBe(true);
  });
});

describe('ranking on the embedded model', () => {
  it('computes each candidate\'s features from the request and its drafts, and scores with them', async () => {
    const seen: { text: string; score: number; features: RankFeatures }[][] = [];
    const engine = await Engine.load({ device: 'cpu', threads: 1, onRanked: (r) => seen.push(r.map((x) => ({ text: x.draft.text, score: x.draft.score, features: x.features }))) });
    try {
      const prefix = 'function area(r: Rect): number {\n  return (r.right - r.left) * (r.bottom - r.top);\n}\n\nfunction perimeter(r: Rect): number {\n  return 2 * ((r.right';
      const res = await engine.complete({ prefix, suffix: '\n}\n', languageId: 'typescript', path: 'geo.ts', strategy: 'superposed', k: 3, maxTokens: 24, mode: 'line', speculative: false });
      expect(seen).toHaveLength(1);
      const ranked = seen[0]!;
      expect(ranked.length).toBeGreaterThanOrEqual(res.drafts.length);
      // best first, every returned draft among them with the same score
      for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1]!.score).toBeGreaterThanOrEqual(ranked[i]!.score);
      for (const d of res.drafts) expect(ranked.find((r) => r.text === d.text)?.score).toBe(d.score);
      for (const r of ranked) {
        expect(r.score).toBe(draftScore(r.features));
        expect(r.features.tokens).toBeGreaterThan(0);
      }
      // the copied line (` - r.left) + (r.bottom - r.top));` closes the line's brackets) is ranked with its evidence
      const copy = ranked.find((r) => r.features.copy);
      expect(copy?.features.copy).toMatchObject({ mirror: false, document: true });
      expect(copy!.features.copy!.matchLength).toBeGreaterThanOrEqual(8);
      const line = (text: string) => '  return 2 * ((r.right' + text.split('\n')[0];
      for (const r of ranked) {
        const open = (line(r.text).match(/[([{]/g) ?? []).length - (line(r.text).match(/[)\]}]/g) ?? []).length;
        if (open > 0) expect(r.features.line).toBe('open');
        if (open < 0) expect(r.features.line).toBe('broken');
      }
    } finally {
      await engine.dispose();
    }
  });
});
