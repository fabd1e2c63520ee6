/**
 * Prompt KV cache across requests. Each entry is a clean (batch 1, all valid) cache of a prompt and the logits
 * of its last position. A new prompt reuses the entry with the longest common token prefix: only the tokens
 * after it are computed. Entries are bounded by count and by bytes (least recently used go first).
 */
import { prefillChunkTokens } from '../prompt/coldPath';
import { abortError } from '../decode/math';
import type { KvState, ModelRuntime } from './runtime';

interface Entry {
  tokens: number[];
  kv: KvState;
  /** Logits of the last prompt position. */
  lastLogits: Float32Array;
  bytes: number;
  used: number;
}

export interface PrefillResult {
  kv: KvState;
  lastLogits: Float32Array;
  reused: number;
  computed: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  reusedTokens: number;
  computedTokens: number;
  entries: number;
}

export class PromptCache {
  private entries: Entry[] = [];
  private clock = 0;
  readonly stats: CacheStats = { hits: 0, misses: 0, reusedTokens: 0, computedTokens: 0, entries: 0 };
  /** Measured prefill speed (ms per prompt token, from forwards of 16+ tokens); NaN until measured. */
  msPerToken = NaN;

  constructor(
    private readonly runtime: ModelRuntime,
    private readonly maxEntries = 4,
    private readonly maxBytes = 256 * 1024 * 1024,
    /** Most prompt tokens per prefill forward (bounds one forward's activations); fewer on slow devices (coldPath.ts). */
    private readonly chunk = 512,
  ) {}

  clear(): void {
    this.entries = [];
    this.stats.entries = 0;
  }

  /**
   * KV of `tokens` (all but nothing: the whole prompt), reusing the longest cached prefix.
   * At least one token is always computed so that the last logits come from a forward.
   */
  async prefill(tokens: number[], signal?: AbortSignal): Promise<PrefillResult> {
    let best: Entry | undefined;
    let bestLen = 0;
    for (const e of this.entries) {
      const n = commonPrefix(e.tokens, tokens);
      if (n > bestLen) {
        best = e;
        bestLen = n;
      }
    }
    if (best && bestLen === tokens.length && best.tokens.length === tokens.length) {
      best.used = ++this.clock;
      this.stats.hits++;
      this.stats.reusedTokens += bestLen;
      return { kv: best.kv, lastLogits: best.lastLogits, reused: bestLen, computed: 0 };
    }
    // Recompute at least the last token (its logits are needed).
    const reuse = Math.min(bestLen, tokens.length - 1);
    let kv = best && reuse > 0 ? this.runtime.truncate(best.kv, reuse) : this.runtime.emptyKv(1);
    if (best && reuse > 0) {
      best.used = ++this.clock;
      this.stats.hits++;
    } else this.stats.misses++;
    let lastLogits = new Float32Array(0);
    for (let start = reuse; start < tokens.length; ) {
      if (signal?.aborted) {
        // Cancelled between chunks (the next keystroke): the chunks computed so far stay cached, so that typing on
        // through a cold prefill makes progress instead of starting it over at every keystroke.
        if (start > reuse) this.insert({ tokens: tokens.slice(0, start), kv, lastLogits, bytes: this.runtime.kvBytes(kv), used: ++this.clock }, best, bestLen);
        throw abortError();
      }
      const chunk = this.runtime.large ? prefillChunkTokens(this.msPerToken, this.chunk) : this.chunk;
      const piece = tokens.slice(start, Math.min(tokens.length, start + chunk));
      start += piece.length;
      const t = performance.now();
      const out = await this.runtime.forward({ ids: piece, batch: 1, seq: piece.length, past: kv, lastRows: 1 });
      if (piece.length >= 16) {
        const ms = (performance.now() - t) / piece.length;
        this.msPerToken = Number.isNaN(this.msPerToken) ? ms : (this.msPerToken + ms) / 2;
      }
      kv = out.kv;
      lastLogits = out.logits.slice((out.rows - 1) * out.vocab, out.rows * out.vocab);
    }
    this.stats.reusedTokens += reuse;
    this.stats.computedTokens += tokens.length - reuse;
    this.insert({ tokens: tokens.slice(), kv, lastLogits, bytes: this.runtime.kvBytes(kv), used: ++this.clock }, best, bestLen);
    return { kv, lastLogits, reused: reuse, computed: tokens.length - reuse };
  }

  private insert(entry: Entry, parent: Entry | undefined, parentLen: number): void {
    // A prompt that extends a cached one (the user typed on) replaces it rather than adding a sibling.
    if (parent && parentLen === parent.tokens.length) this.entries = this.entries.filter((e) => e !== parent);
    this.entries.push(entry);
    this.entries.sort((a, b) => b.used - a.used);
    let bytes = 0;
    this.entries = this.entries.filter((e, i) => {
      bytes += e.bytes;
      return i < this.maxEntries && (i === 0 || bytes <= this.maxBytes);
    });
    this.stats.entries = this.entries.length;
  }
}

export function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
