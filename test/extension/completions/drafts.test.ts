import { describe, expect, it } from 'vitest';
import { CycleTracker, PrefixCache, dedupeDrafts, fitToLineSuffix, type RankedDraft } from '../../../src/extension/completions/drafts';
import type { Draft } from '../../../src/protocol';

const d = (text: string, score = -1): Draft => ({ text, score, tokens: 3, strategy: 'superposed' });

describe('dedupeDrafts', () => {
  it('drops empty and duplicate drafts (trailing whitespace ignored), keeps order, re-ranks', () => {
    const r = dedupeDrafts([d('return a;\n', -0.1), d('return a;', -0.2), d('   \n'), d('return b;', -0.3), d('')]);
    expect(r.map((x) => [x.rank, x.text, x.score])).toEqual([
      [1, 'return a;', -0.1],
      [2, 'return b;', -0.3],
    ]);
  });
});

describe('fitToLineSuffix', () => {
  it('replaces the auto-closed text the draft already contains', () => {
    expect(fitToLineSuffix('a, b)', ')')).toEqual({ text: 'a, b)', replaceChars: 1 });
    expect(fitToLineSuffix('a, b', ')')).toEqual({ text: 'a, b', replaceChars: 0 });
    expect(fitToLineSuffix('x\ny', '')).toEqual({ text: 'x\ny', replaceChars: 0 });
  });
  it('keeps only the first line of a multi-line draft when code follows the cursor', () => {
    expect(fitToLineSuffix('a)\n  more();', ')')).toEqual({ text: 'a)', replaceChars: 1 });
    expect(fitToLineSuffix('a\n  more();', ');')).toEqual({ text: 'a', replaceChars: 0 });
  });
});

describe('PrefixCache', () => {
  const ranked = (...texts: string[]): RankedDraft[] => texts.map((t, i) => ({ ...d(t), rank: i + 1 }));
  const entry = (prefix: string, offset: number, drafts: RankedDraft[], key = 'doc') => ({ key, prefix, offset, drafts, strategy: 'superposed' as const, ms: 50 });

  it('serves the same position again', () => {
    const c = new PrefixCache();
    c.put(entry('def f(x):\n    ', 15, ranked('return x', 'pass')));
    const hit = c.lookup('doc', 'def f(x):\n    ', 15)!;
    expect(hit.typed).toBe(0);
    expect(hit.drafts.map((x) => x.text)).toEqual(['return x', 'pass']);
  });

  it('serves a prefetched completion (as if draft 1 were accepted) once the draft is typed, before the older entry', () => {
    const c = new PrefixCache();
    c.put(entry('x = ', 4, ranked('compute(1)', 'compute(2)')));
    // the prefetch: prefix + draft 1, at the offset after it
    c.put(entry('x = compute(1)', 14, ranked('\ny = x + 1')));
    expect(c.has('doc', 'x = compute(1)', 14)).toBe(true);
    expect(c.has('doc', 'x = compute(1)', 13)).toBe(false);
    expect(c.has('other', 'x = compute(1)', 14)).toBe(false);
    const hit = c.lookup('doc', 'x = compute(1)', 14)!;
    expect(hit.typed).toBe(0);
    expect(hit.drafts.map((x) => x.text)).toEqual(['\ny = x + 1']);
    // has() neither counts nor reorders
    const before = { hits: c.hits, misses: c.misses };
    c.has('doc', 'nothing', 1);
    expect({ hits: c.hits, misses: c.misses }).toEqual(before);
  });

  it('serves typing-as-suggested: the rest of drafts consistent with the typed text', () => {
    const c = new PrefixCache();
    c.put(entry('def f(x):\n    ', 15, ranked('return x + 1', 'pass', 'return None')));
    const hit = c.lookup('doc', 'def f(x):\n    ret', 18)!;
    expect(hit.typed).toBe(3);
    expect(hit.drafts.map((x) => [x.rank, x.text])).toEqual([
      [1, 'urn x + 1'],
      [2, 'urn None'],
    ]);
    expect(c.lookup('doc', 'def f(x):\n    rex', 18)).toBeUndefined();
    // Typing the whole draft leaves nothing to show: miss.
    expect(c.lookup('doc', 'def f(x):\n    pass', 19)).toBeUndefined();
    expect(c.hits).toBe(1);
    expect(c.misses).toBe(2);
  });

  it('is a miss when typing leaves fewer drafts than were asked for (a new request brings k)', () => {
    const c = new PrefixCache();
    c.put(entry('def f(x):\n    ', 15, ranked('return x + 1', 'pass', 'return None')));
    // k = 3 asked: two drafts left after "ret" is not enough; k = 2 is
    expect(c.lookup('doc', 'def f(x):\n    ret', 18, 3)).toBeUndefined();
    expect(c.lookup('doc', 'def f(x):\n    ret', 18, 2)!.drafts).toHaveLength(2);
    // at the entry's own position every draft is there: a hit whatever k
    expect(c.lookup('doc', 'def f(x):\n    ', 15, 3)!.drafts).toHaveLength(3);
    // an entry that held fewer than k (the model offered no more) still serves what it has
    c.put(entry('y = ', 4, ranked('1', '2')));
    expect(c.lookup('doc', 'y = ', 4, 3)!.drafts).toHaveLength(2);
  });

  it('works when the prefix window slid forward', () => {
    const c = new PrefixCache();
    c.put(entry('0123456789abc', 113, ranked('defgh')));
    // New window starts 2 chars later, 2 chars typed.
    const hit = c.lookup('doc', '23456789abcde', 115)!;
    expect(hit.drafts[0]!.text).toBe('fgh');
  });

  it('misses for another document, an edit before the cursor, or moving back', () => {
    const c = new PrefixCache();
    c.put(entry('abc', 3, ranked('def')));
    expect(c.lookup('other', 'abc', 3)).toBeUndefined();
    expect(c.lookup('doc', 'aXcd', 4)).toBeUndefined();
    expect(c.lookup('doc', 'ab', 2)).toBeUndefined();
  });

  it('evicts the least recently used entry', () => {
    const c = new PrefixCache(2);
    c.put(entry('a', 1, ranked('1'), 'k1'));
    c.put(entry('b', 1, ranked('2'), 'k2'));
    expect(c.lookup('k1', 'a', 1)).toBeDefined(); // k1 becomes most recent
    c.put(entry('c', 1, ranked('3'), 'k3'));
    expect(c.size).toBe(2);
    expect(c.lookup('k2', 'b', 1)).toBeUndefined();
    expect(c.lookup('k1', 'a', 1)).toBeDefined();
  });
});

describe('CycleTracker', () => {
  it('wraps both ways and resets for a new list', () => {
    const t = new CycleTracker();
    const id1 = t.reset(3);
    expect(t.index).toBe(0);
    expect([t.next(), t.next(), t.next()]).toEqual([1, 2, 0]);
    expect([t.previous(), t.previous()]).toEqual([2, 1]);
    const id2 = t.reset(2);
    expect(id2).not.toBe(id1);
    expect(t.index).toBe(0);
    expect(t.previous()).toBe(1);
    t.reset(0);
    expect(t.next()).toBe(0);
  });
});
