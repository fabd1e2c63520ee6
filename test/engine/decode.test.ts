import { describe, expect, it } from 'vitest';
import { repetitionCut, topN } from '../../src/engine/decode';

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
