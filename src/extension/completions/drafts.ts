/**
 * Draft post-processing, the typing-as-suggested prefix cache and the cycling index. Pure (no `vscode` import).
 */
import type { Draft, StrategyName } from '../../protocol';
import { draftKey, uniqueDrafts } from '../../protocol/draftKey';

export interface RankedDraft extends Draft {
  /** 1-based rank after dedupe (1 = best). */
  rank: number;
}

/**
 * The drafts as the editor inserts them: trailing whitespace dropped (it would leave blank lines or dangling spaces
 * behind the insertion), empty ones and repeats (draftKey) removed, the first (best) of each kept and ranked.
 */
export function dedupeDrafts(drafts: readonly Draft[]): RankedDraft[] {
  const trimmed = drafts.map((d) => ({ ...d, text: d.text.replace(/\s+$/, '') })).filter((d) => draftKey(d.text) !== '');
  return uniqueDrafts(trimmed, (d) => d.text).map((d, i) => ({ ...d, rank: i + 1 }));
}

/**
 * How a draft meets the rest of the current line. When the draft's first line ends with the text after the cursor
 * (e.g. the closing `)` that auto-close inserted), the item should replace that text instead of duplicating it.
 */
export function fitToLineSuffix(text: string, lineSuffix: string): { text: string; replaceChars: number } {
  const ls = lineSuffix.replace(/\s+$/, '');
  if (!ls) return { text, replaceChars: 0 };
  const nl = text.indexOf('\n');
  const first = nl >= 0 ? text.slice(0, nl) : text;
  if (nl < 0 && first.endsWith(ls)) return { text, replaceChars: ls.length };
  if (nl < 0) return { text, replaceChars: 0 };
  // Multi-line draft with code after the cursor: keep only the first line so it does not clash with the suffix.
  if (first.endsWith(ls)) return { text: first, replaceChars: ls.length };
  return { text: first, replaceChars: 0 };
}

export interface CacheEntry {
  key: string; // document identity (uri) + suffix identity
  prefix: string;
  /** Document offset of the cursor when requested. */
  offset: number;
  drafts: RankedDraft[];
  strategy: StrategyName;
  ms: number;
}

export interface CacheHit {
  drafts: RankedDraft[];
  /** Characters typed since the cached request (0 = same position). */
  typed: number;
  entry: CacheEntry;
}

/**
 * LRU cache of completions keyed by document prefix. A lookup hits when the user is at the same position, or has
 * typed exactly what some drafts show: those drafts are served with the typed text removed (typing-as-suggested).
 * Typing that leaves fewer drafts than were asked for (and than the entry held) is a miss: the user asked for k
 * drafts, so a new request supplies them (VS Code keeps showing the typed-through ghost text meanwhile).
 */
export class PrefixCache {
  private entries: CacheEntry[] = []; // most recent last
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = 100) {}

  get size(): number {
    return this.entries.length;
  }

  clear(): void {
    this.entries = [];
  }

  put(entry: CacheEntry): void {
    this.entries = this.entries.filter((e) => !(e.key === entry.key && e.offset === entry.offset && e.prefix === entry.prefix));
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** True when an entry for exactly this request exists (no statistics, no LRU update). */
  has(key: string, prefix: string, offset: number): boolean {
    return this.entries.some((e) => e.key === key && e.offset === offset && e.prefix === prefix);
  }

  lookup(key: string, prefix: string, offset: number, wanted = 1): CacheHit | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.key !== key) continue;
      const typed = offset - e.offset;
      if (typed < 0 || typed > prefix.length) continue;
      const typedText = prefix.slice(prefix.length - typed);
      const head = prefix.slice(0, prefix.length - typed);
      if (!e.prefix.endsWith(head)) continue;
      // The prefix windows overlap correctly only if the new window does not start before the old one.
      if (head.length > e.prefix.length) continue;
      const drafts: RankedDraft[] = [];
      for (const d of e.drafts) {
        if (d.text.startsWith(typedText) && d.text.length > typedText.length) {
          drafts.push({ ...d, text: d.text.slice(typedText.length), rank: drafts.length + 1 });
        }
      }
      if (!drafts.length || drafts.length < Math.min(wanted, e.drafts.length)) continue;
      this.entries.splice(i, 1);
      this.entries.push(e);
      this.hits++;
      return { drafts, typed, entry: e };
    }
    this.misses++;
    return undefined;
  }
}

/**
 * Which item VS Code shows. Stable API has no callback, so our showNext/showPrevious commands step this index the
 * way VS Code steps its own (wrapping), and a new result set resets it to the first item.
 */
export class CycleTracker {
  private count = 0;
  private idx = 0;
  private id = 0;

  /** A new list of `count` items is shown (first item visible). Returns the list id. */
  reset(count: number): number {
    this.count = Math.max(0, count);
    this.idx = 0;
    return ++this.id;
  }

  next(): number {
    if (this.count > 0) this.idx = (this.idx + 1) % this.count;
    return this.idx;
  }

  previous(): number {
    if (this.count > 0) this.idx = (this.idx - 1 + this.count) % this.count;
    return this.idx;
  }

  get index(): number {
    return this.idx;
  }

  get size(): number {
    return this.count;
  }
}
