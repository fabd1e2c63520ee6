/**
 * What every decoding strategy shares: the per-request context, draft bookkeeping (tokens → text with the
 * healed prefix removed, stop rules), and small numeric helpers. Strategies live one per file in strategies/.
 */
import type { StrategyName } from '../protocol';
import { abortError } from './kvcache';
import type { NgramStore } from './ngram';
import type { HealConstraint, Prompt } from './prompt';
import type { KvState, ModelRuntime } from './runtime';
import type { Speculator } from './speculative';
import type { Tokenizer } from './tokenizer';

export interface DecodeStats {
  forwards: number;
  acceptedSpeculative: number;
}

export interface DecodeContext {
  runtime: ModelRuntime;
  tok: Tokenizer;
  prompt: Prompt;
  /** Clean prompt cache, batch 1. */
  kv: KvState;
  /** Logits after the last prompt token. */
  lastLogits: Float32Array;
  /** Width of a logits row (the graph's vocabulary). */
  vocab: number;
  heal: HealConstraint;
  eos: Set<number>;
  k: number;
  maxTokens: number;
  /** Returns -1 to continue, or the index at which the completion text ends (stop). */
  stop: (text: string) => number;
  ngrams: NgramStore;
  speculator: Speculator | null;
  temperature: number;
  topP: number;
  seed: number;
  signal?: AbortSignal;
  stats: DecodeStats;
}

export interface RawDraft {
  tokens: number[];
  /** Sum of the model's log-probabilities of the tokens (temperature 1). */
  logprob: number;
  text: string;
  /** Ended by EOS or a stop rule (false: ran into maxTokens). */
  finished: boolean;
  /** Strategy-internal score used for search (may include n-gram terms). */
  searchScore?: number;
}

export interface Strategy {
  readonly name: StrategyName;
  decode(ctx: DecodeContext): Promise<RawDraft[]>;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A growing draft: tokens, bytes, healing progress, and whether a stop rule or EOS ended it. */
export class DraftState {
  tokens: number[] = [];
  logprob = 0;
  score = 0;
  done = false;
  finished = false;
  text = '';
  healLeft: Uint8Array;
  private bytes: number[] = [];
  private healLen: number;

  constructor(heal: Uint8Array) {
    this.healLeft = heal;
    this.healLen = heal.length;
  }

  clone(): DraftState {
    const d = new DraftState(this.healLeft);
    d.tokens = this.tokens.slice();
    d.logprob = this.logprob;
    d.score = this.score;
    d.done = this.done;
    d.finished = this.finished;
    d.text = this.text;
    d.bytes = this.bytes.slice();
    d.healLen = this.healLen;
    return d;
  }

  /** Appends a token; returns true when the draft is complete (EOS, stop rule or max tokens). */
  push(ctx: DecodeContext, token: number, logprob: number): boolean {
    if (this.done) return true;
    if (ctx.eos.has(token)) {
      this.done = true;
      this.finished = true;
      return true;
    }
    this.tokens.push(token);
    this.logprob += logprob;
    if (this.healLeft.length > 0) this.healLeft = ctx.heal.advance(this.healLeft, token);
    const tb = ctx.tok.tokenBytes[token];
    for (let i = 0; i < tb.length; i++) this.bytes.push(tb[i]);
    this.text = this.bytes.length > this.healLen ? utf8.decode(Uint8Array.from(this.bytes.slice(this.healLen))) : '';
    // A replacement character at the very end is an incomplete UTF-8 sequence: judge stops once it completes.
    const complete = !this.text.endsWith('\uFFFD');
    if (complete && this.healLeft.length === 0) {
      const cut = ctx.stop(this.text);
      if (cut >= 0) {
        this.text = this.text.slice(0, cut);
        this.done = true;
        this.finished = true;
        return true;
      }
    }
    if (this.tokens.length >= ctx.maxTokens) {
      this.done = true;
      return true;
    }
    return false;
  }

  toRaw(): RawDraft {
    return { tokens: this.tokens.slice(), logprob: this.logprob, text: this.text, finished: this.finished, searchScore: this.score };
  }
}

export function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError();
}

/** log-softmax of row `row` of a [rows, vocab] logits array, into `out`. */
export function logSoftmax(logits: Float32Array, vocab: number, row: number, out: Float64Array, temperature = 1): Float64Array {
  const off = row * vocab;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[off + i] > max) max = logits[off + i];
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp((logits[off + i] - max) / temperature);
  const lse = Math.log(sum);
  for (let i = 0; i < vocab; i++) out[i] = (logits[off + i] - max) / temperature - lse;
  return out;
}

/** Argmax of row `row`, restricted to `allowed` when given. Ties go to the lowest id (deterministic). */
export function argmax(logits: Float32Array, vocab: number, row: number, allowed?: Int32Array): number {
  const off = row * vocab;
  let best = -1;
  let bestV = -Infinity;
  if (allowed) {
    for (let j = 0; j < allowed.length; j++) {
      const v = logits[off + allowed[j]];
      if (v > bestV) {
        bestV = v;
        best = allowed[j];
      }
    }
    return best;
  }
  for (let i = 0; i < vocab; i++) {
    if (logits[off + i] > bestV) {
      bestV = logits[off + i];
      best = i;
    }
  }
  return best;
}

/** Indices of the n largest values among `ids` (or all of `values` when ids is undefined), best first. */
export function topN(values: Float64Array | Float32Array, n: number, offset = 0, length = values.length - offset, allowed?: Int32Array): number[] {
  const idx: number[] = [];
  const val: number[] = [];
  const consider = (i: number): void => {
    const v = values[offset + i];
    if (idx.length === n && v <= val[n - 1]) return;
    let p = idx.length === n ? n - 1 : idx.length;
    if (idx.length < n) {
      idx.push(i);
      val.push(v);
    }
    while (p > 0 && val[p - 1] < v) {
      idx[p] = idx[p - 1];
      val[p] = val[p - 1];
      p--;
    }
    idx[p] = i;
    val[p] = v;
  };
  if (allowed) for (let j = 0; j < allowed.length; j++) consider(allowed[j]);
  else for (let i = 0; i < length; i++) consider(i);
  return idx;
}

/** Deterministic PRNG (mulberry32) so that a seeded sampling request reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
