/**
 * Lexical-unit drafting without a second model. Multi-token units come from, in the order Speculator.propose tries them:
 *  1. recycled drafts: token sequences this engine produced for recent requests (the user typing what was
 *     suggested makes the next request's continuation a suffix of the last one's);
 *  2. prompt lookup: the latest earlier occurrence of the last n (4..1) tokens in the prompt + generated text;
 *  3. n-grams of the open files / workspace / static corpus (NgramStore.draft);
 *  4. token recycling: a |V|×8 table of each token's latest top successors, refreshed from every forward pass
 *     and kept across requests (hot start); a unit is the chain of top-1 successors.
 * The caller verifies a unit in one multi-token forward and keeps the longest prefix the model itself would
 * have produced, so the output is exactly what the accelerated strategy produces without it.
 */
import { insertTop } from './math';
import type { NgramStore } from '../ngram/store';

const RECYCLE_WIDTH = 8;

export class TokenRecycler {
  readonly table: Int32Array;
  constructor(readonly vocab: number) {
    this.table = new Int32Array(vocab * RECYCLE_WIDTH).fill(-1);
  }

  /** Records the top successors of `token` from one row of logits. */
  update(token: number, logits: Float32Array, offset: number): void {
    if (token < 0 || token >= this.vocab) return;
    const best = new Int32Array(RECYCLE_WIDTH).fill(-1);
    const val = new Float64Array(RECYCLE_WIDTH).fill(-Infinity);
    for (let i = 0; i < this.vocab; i++) insertTop(best, val, RECYCLE_WIDTH, RECYCLE_WIDTH, i, logits[offset + i]!);
    this.table.set(best, token * RECYCLE_WIDTH);
  }

  successor(token: number, rank = 0): number {
    return this.table[token * RECYCLE_WIDTH + rank];
  }

  chain(last: number, maxLen: number): number[] {
    const out: number[] = [];
    let t = last;
    for (let i = 0; i < maxLen; i++) {
      const n = this.successor(t);
      if (n < 0) break;
      out.push(n);
      t = n;
    }
    return out;
  }
}

export class Speculator {
  /** Unit length adapts to recent acceptance: long units when they land, short when they miss. */
  private unit = 8;

  constructor(
    readonly recycler: TokenRecycler,
    private readonly ngrams: NgramStore | null,
    /** Recent outputs (each: the tail of its prompt context followed by the generated tokens). */
    private readonly recent: readonly number[][] = [],
    readonly maxUnit = 12,
  ) {}

  /** A unit of tokens likely to follow `history` (prompt context + generated tokens), [] when none. */
  propose(history: number[]): number[] {
    const len = this.unit;
    for (let r = this.recent.length - 1; r >= 0; r--) {
      const unit = lookupIn(this.recent[r], history, Math.max(len, this.maxUnit), 2);
      if (unit.length > 0) return unit;
    }
    const lookup = promptLookup(history, len);
    if (lookup.length > 0) return lookup;
    if (this.ngrams) {
      const d = this.ngrams.draft(history.slice(-8), len);
      if (d.length > 0) return d;
    }
    return this.recycler.chain(history[history.length - 1], Math.min(len, 4));
  }

  record(proposed: number, accepted: number): void {
    if (accepted >= proposed && proposed > 0) this.unit = Math.min(this.maxUnit, this.unit + 2);
    else this.unit = Math.max(3, Math.min(this.unit, accepted + 2));
  }
}

/** Continuation in `source` of the most recent occurrence of the last n tokens of `history` (n = 4..minNgram). */
export function lookupIn(source: number[], history: number[], maxLen: number, minNgram: number): number[] {
  const h = history.length;
  for (let n = Math.min(4, h); n >= minNgram; n--) {
    for (let i = source.length - n - 1; i >= 0; i--) {
      let j = 0;
      while (j < n && source[i + j] === history[h - n + j]) j++;
      if (j === n) return source.slice(i + n, Math.min(source.length, i + n + maxLen));
    }
  }
  return [];
}

/** Prompt lookup decoding: continue the most recent earlier occurrence of the last n tokens (n = 4..1). */
export function promptLookup(history: number[], maxLen: number): number[] {
  return lookupIn(history, history, maxLen, 1);
}
