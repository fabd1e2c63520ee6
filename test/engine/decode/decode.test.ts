import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DraftState, repetitionCut, restoreCollidingCuts, topN, type DecodeContext } from '../../../src/engine/decode/decode';
import { defaultModelDir } from '../../../src/engine/engine';
import { Tokenizer } from '../../../src/engine/model/tokenizer';

describe('repetitionCut', () => {
  it('cuts a loop after the first occurrence of its unit', () => {
    // "0" "," repeated: unit of 2 tokens, 4 times -> keep up to the end of the first unit
    expect(repetitionCut([7, 1, 2, 1, 2, 1, 2, 1, 2])).toBe(3);
    // a single token 8 times
    expect(repetitionCut([5, 9, 9, 9, 9, 9, 9, 9, 9])).toBe(2);
    // unit of 3 tokens 4 times
    expect(repetitionCut([4, 3, 5, 6, 3, 5, 6, 3, 5, 6, 3, 5, 6])).toBe(4);
  });

  it('leaves ordinary code alone', () => {
    expect(repetitionCut([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe(-1);
    expect(repetitionCut([9, 9, 9, 9, 9, 9, 9])).toBe(-1); // 7 of one token: not yet a loop
    expect(repetitionCut([1, 2, 1, 2, 1, 2])).toBe(-1); // 3 repeats of a unit: allowed
  });
});

describe('topN', () => {
  it('returns the n best indices, best first, ties to the lowest index', () => {
    const v = Float64Array.from([0.1, 0.5, 0.3, 0.5, -1]);
    expect(topN(v, 3)).toEqual([1, 3, 2]);
    expect(topN(v, 2, 0, v.length, Int32Array.from([0, 2, 4]))).toEqual([2, 0]);
  });
});

describe('time-budget cuts', () => {
  const tok = Tokenizer.load(path.join(process.env.SUPERDRAFT_MODEL_DIR || defaultModelDir(), 'tokenizer.json'));
  const ctx = (deadline: number): DecodeContext =>
    ({ tok, eos: new Set<number>(), stop: () => -1, stopOnRepetition: false, maxTokens: 1024, deadline, stats: { forwards: 0, acceptedSpeculative: 0, budgetCuts: 0 } }) as unknown as DecodeContext;
  const draft = (c: DecodeContext, text: string): DraftState => {
    const d = new DraftState(new Uint8Array(0));
    for (const t of tok.encode(text)) if (d.push(c, t, -1)) break;
    return d;
  };

  /** Pushes `text` with the budget open up to the tokens of `cutFrom`, spent after them. */
  const grow = (spent: DecodeContext, text: string, cutFrom: string): DraftState => {
    const open = ctx(Number.POSITIVE_INFINITY);
    const d = new DraftState(new Uint8Array(0));
    const ids = tok.encode(text);
    const head = tok.encode(cutFrom).length;
    for (let i = 0; i < ids.length; i++) if (d.push(i < head ? open : spent, ids[i]!, -1)) break;
    return d;
  };

  it('end a draft at its last complete line once the budget is spent, never before content', () => {
    const spent = ctx(-1);
    // spent while the second line is under way
    const d = grow(spent, '\n    x = compute(1)\n    y = x + 2\n    return y\n', '\n    x = compute(1)\n    y');
    expect(d.text).toBe('\n    x = compute(1)');
    expect(d.done).toBe(true);
    expect(d.finished).toBe(false);
    expect(spent.stats.budgetCuts).toBe(1);
    const open = ctx(Number.POSITIVE_INFINITY);
    expect(draft(open, '\n    x = compute(1)\n    y = x + 2').text).toBe('\n    x = compute(1)\n    y = x + 2');
    expect(open.stats.budgetCuts).toBe(0);
  });

  it('end a draft still on its first line at its last complete word, never inside one or before a word', () => {
    const spent = ctx(-1);
    // "total" may arrive as several tokens: the cut waits for the boundary after the word, then drops the space
    const d = draft(spent, '    total = sum(values)');
    expect(d.done).toBe(true);
    expect(d.finished).toBe(false);
    expect(d.text).toMatch(/^ {4}total( =)?$/);
    expect(spent.stats.budgetCuts).toBe(1);
    // the tokens kept spell the text (up to the dropped trailing space)
    expect(tok.decode(d.tokens).trimEnd()).toBe(d.text);
    // inside an identifier: never after a piece that continues a word ("_total"), at the end of one that began it
    const one = ctx(-1);
    const id = draft(one, 'compute_total_values');
    const pieces = tok.encode('compute_total_values').map((t) => tok.decode([t]));
    expect(id.text).toBe(pieces[0]);
    expect('compute_total_values'.startsWith(id.text)).toBe(true);
    // a lone bracket is not a draft worth showing early
    const br = ctx(-1);
    expect(draft(br, '(').done).toBe(false);
    // the tail comes back when asked (restoreCollidingCuts)
    const back = ctx(-1);
    const u = draft(back, 'x = compute(1)');
    const shown = u.text;
    expect(u.uncut(back)).toBe(true);
    expect(u.text.startsWith(shown)).toBe(true);
  });

  it('give a cut draft its tail back when the cut made it equal to a better draft', () => {
    // the budget is spent while the drafts are in their third line: each is cut back to two lines
    const spent = ctx(-1);
    const a = grow(spent, '\n    x = compute(1)\n    y = x\n    return y', '\n    x = compute(1)\n    y = x\n    ret');
    const b = grow(spent, '\n    x = compute(1)\n    y = x\n    print(y)', '\n    x = compute(1)\n    y = x\n    pri');
    const c = grow(spent, '\n    z = other()\n    w = z\n    return w', '\n    z = other()\n    w = z\n    ret');
    expect(a.text).toBe('\n    x = compute(1)\n    y = x');
    expect(b.text).toBe(a.text);
    restoreCollidingCuts([a, b, c], spent);
    expect(a.text).toBe('\n    x = compute(1)\n    y = x');
    expect(b.text.startsWith('\n    x = compute(1)\n    y = x\n    pri')).toBe(true);
    expect(b.tokens.length).toBe(b.lps.length);
    expect(b.logprob).toBe(-b.tokens.length);
    expect(c.text).toBe('\n    z = other()\n    w = z');
  });
});
