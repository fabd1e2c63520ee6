/**
 * Drafts copied from the code. Code repeats itself (identifiers, call shapes, the line that mirrors the one above),
 * so what followed an earlier occurrence of the text before the cursor is often what comes next. For the longest
 * tails of the text before the cursor (MAX_MATCH characters down to a minimum) that occur elsewhere, this finds the
 * occurrences ("sites") and what follows each:
 *  - in the document itself, before and after the cursor, by a direct scan of a bounded window (the request's text);
 *  - in the request's snippets (other open editors);
 *  - in the workspace texts the engine was given (indexFiles), through a hash-chain index on CHAIN_KEY-character
 *    keys (LZ77's match finder): a lookup walks at most CHAIN_STEPS entries, independent of the workspace's size.
 * Sites are ranked by match length, then by source (this document first) and closeness to the cursor; their
 * continuations become candidate drafts that the model ranks together with its own (see rank.ts).
 */

import { openBrackets, rebalanceCopy } from '../text/brackets';

/** Where a copied draft came from. */
export interface CopySite {
  /** '' = the document being edited; otherwise the path of the file (workspace-relative as indexed). */
  path: string;
  /** The document being edited: lines from the cursor's line to the copied text's line (negative: above). */
  offset?: number;
  /** Other files: 1-based line of the copied text (absent for a snippet, whose position in its file is unknown). */
  line?: number;
  /** Characters of the text before the cursor that matched before the copied text. */
  matchLength: number;
  /** What followed the match (up to the continuation limit; stop rules cut it later). */
  text: string;
  /** A mirrored line (mirror.ts): the names renamed in it, [its name, the name at the cursor]. */
  renamed?: [string, string][];
}

export interface CopyQuery {
  prefix: string;
  suffix: string;
  snippets?: readonly { path: string; text: string }[];
}

export interface CopyOptions {
  /** Most sites returned (distinct continuations). */
  maxSites: number;
  /** Shortest match in the document and snippets (characters). */
  minMatch: number;
  /** Characters of continuation kept per site. */
  maxChars: number;
}

export const COPY_DEFAULTS: CopyOptions = { maxSites: 4, minMatch: 4, maxChars: 400 };

/** Longest match considered (characters): longer contexts add nothing to the ranking. */
export const MAX_MATCH = 64;
/** Window of the document scanned: characters before and after the cursor. */
const DOC_BEFORE = 64 * 1024;
const DOC_AFTER = 16 * 1024;
/** Occurrences of the shortest key examined per text (nearest the cursor first). */
const MAX_HITS = 4096;
/** Workspace index: key length (characters) and the most chain entries a lookup walks. */
const CHAIN_KEY = 8;
const CHAIN_STEPS = 256;
const HASH_BITS = 18;
/** Characters of workspace text kept for copying (the rest is not indexed; n-grams still see it). */
export const COPY_INDEX_MAX_CHARS = 16 * 1024 * 1024;

interface Found {
  path: string;
  /** Rank of the source: 0 this document, 1 snippets, 2 workspace. */
  tier: number;
  /** Distance from the cursor (this document) or from the end (others), for ordering equal matches. */
  distance: number;
  matchLength: number;
  text: string;
  /** Where the copied text starts in `hay` (line numbers are counted only for the sites kept). */
  hay: string;
  end: number;
}

/** Length of the common suffix of query and hay[..end), at most `max`. */
function backMatch(hay: string, end: number, query: string, max: number): number {
  let n = 0;
  const q = query.length;
  while (n < max && n < end && n < q && hay.charCodeAt(end - 1 - n) === query.charCodeAt(q - 1 - n)) n++;
  return n;
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Continuation after `end` in `hay`: up to maxChars, never past `stop`. */
function continuation(hay: string, end: number, maxChars: number, stop = hay.length): string {
  return hay.slice(end, Math.min(stop, end + maxChars));
}

/**
 * Scans `hay` for occurrences of the query's last `minMatch` characters, nearest to `anchor` first in both directions
 * (at most MAX_HITS), and reports each with its backward match length.
 */
function scan(hay: string, query: string, minMatch: number, anchor: number, skipEnd: number, visit: (end: number, match: number) => void): void {
  if (query.length < minMatch) return;
  const key = query.slice(-minMatch);
  let hits = 0;
  // before the anchor, walking back
  for (let p = hay.lastIndexOf(key, anchor - key.length); p !== -1 && hits < MAX_HITS; p = p > 0 ? hay.lastIndexOf(key, p - 1) : -1) {
    hits++;
    const end = p + key.length;
    if (end === skipEnd) continue;
    visit(end, backMatch(hay, end, query, MAX_MATCH));
  }
  // after the anchor, walking forward
  for (let p = hay.indexOf(key, Math.max(0, anchor - key.length + 1)); p !== -1 && hits < 2 * MAX_HITS; p = hay.indexOf(key, p + 1)) {
    const end = p + key.length;
    if (end <= anchor) continue;
    hits++;
    visit(end, backMatch(hay, end, query, MAX_MATCH));
  }
}

/**
 * Workspace texts for copying, with a hash-chain index on CHAIN_KEY-character keys. Texts are appended; a replaced
 * or removed file's text stays in the chains but is skipped, and the index is rebuilt from the live texts when the
 * dead part outgrows the live one.
 */
export class CopyIndex {
  private docs: { path: string; text: string; base: number; live: boolean }[] = [];
  private byPath = new Map<string, number>();
  private head = new Int32Array(1 << HASH_BITS).fill(-1);
  private prev = new Int32Array(1 << 16);
  private size = 0;
  private liveChars = 0;

  get chars(): number {
    return this.liveChars;
  }

  get files(): number {
    return this.byPath.size;
  }

  /** Sets (or with empty text removes) a file's text. Returns false when the size limit keeps it out. */
  set(path: string, text: string): boolean {
    const old = this.byPath.get(path);
    if (old !== undefined) {
      this.docs[old].live = false;
      this.liveChars -= this.docs[old].text.length;
      this.byPath.delete(path);
    }
    if (text.length < CHAIN_KEY) return text.length === 0;
    if (this.liveChars + text.length > COPY_INDEX_MAX_CHARS) return false;
    if (this.size - this.liveChars > Math.max(this.liveChars, 1 << 20)) this.rebuild();
    this.append(path, text);
    return true;
  }

  clear(): void {
    this.docs = [];
    this.byPath.clear();
    this.head.fill(-1);
    this.size = 0;
    this.liveChars = 0;
  }

  private rebuild(): void {
    const live = this.docs.filter((d) => d.live);
    this.clear();
    for (const d of live) this.append(d.path, d.text);
  }

  private append(path: string, text: string): void {
    const base = this.size;
    if (base + text.length > this.prev.length) {
      let cap = this.prev.length;
      while (cap < base + text.length) cap *= 2;
      const grown = new Int32Array(cap);
      grown.set(this.prev.subarray(0, base));
      this.prev = grown;
    }
    for (let i = CHAIN_KEY; i <= text.length; i++) {
      const h = hashKey(text, i - CHAIN_KEY);
      this.prev[base + i - 1] = this.head[h];
      this.head[h] = base + i - 1; // the position of the key's last character
    }
    this.byPath.set(path, this.docs.length);
    this.docs.push({ path, text, base, live: true });
    this.size = base + text.length;
    this.liveChars += text.length;
  }

  /** Occurrences of the query's last CHAIN_KEY characters (newest files first), with their backward match length. */
  lookup(query: string, visit: (path: string, text: string, end: number, match: number) => void, skipPath?: string): void {
    if (query.length < CHAIN_KEY || this.size === 0) return;
    let pos = this.head[hashKey(query, query.length - CHAIN_KEY)];
    for (let steps = 0; pos !== -1 && steps < CHAIN_STEPS; steps++, pos = this.prev[pos]) {
      const doc = this.docAt(pos);
      if (!doc.live || doc.path === skipPath) continue;
      const end = pos - doc.base + 1;
      const match = backMatch(doc.text, end, query, MAX_MATCH);
      if (match >= CHAIN_KEY) visit(doc.path, doc.text, end, match);
    }
  }

  private docAt(pos: number): { path: string; text: string; base: number; live: boolean } {
    let lo = 0;
    let hi = this.docs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.docs[mid].base <= pos) lo = mid;
      else hi = mid - 1;
    }
    return this.docs[lo];
  }
}

function hashKey(text: string, start: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + CHAIN_KEY; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) >>> (32 - HASH_BITS);
}

/**
 * The copy candidates for a request: distinct continuations (by their first line, trimmed) of the best sites, best
 * first. `path` is the document's own path (so that its indexed copy in the workspace is not found twice).
 */
export function findCopies(q: CopyQuery, index: CopyIndex | null, opts: CopyOptions = COPY_DEFAULTS, path = ''): CopySite[] {
  const query = q.prefix.slice(-MAX_MATCH);
  if (query.trim().length === 0) return [];
  const found: Found[] = [];
  // This document: a window around the cursor, the cursor at `cursor`.
  const before = q.prefix.slice(-DOC_BEFORE);
  const after = q.suffix.slice(0, DOC_AFTER);
  const doc = before + after;
  const cursor = before.length;
  scan(doc, query, opts.minMatch, cursor, cursor, (end, match) => {
    if (match < opts.minMatch) return;
    const text = continuation(doc, end, opts.maxChars, end <= cursor ? cursor : doc.length);
    if (text.length > 0) found.push({ path: '', tier: 0, distance: Math.abs(end - cursor), matchLength: match, text, hay: doc, end });
  });
  for (const s of q.snippets ?? []) {
    scan(s.text, query, Math.max(opts.minMatch, 6), s.text.length, -1, (end, match) => {
      if (match < Math.max(opts.minMatch, 6)) return;
      const text = continuation(s.text, end, opts.maxChars);
      if (text.length > 0) found.push({ path: s.path, tier: 1, distance: s.text.length - end, matchLength: match, text, hay: s.text, end });
    });
  }
  index?.lookup(
    query,
    (file, text, end, match) => {
      const cont = continuation(text, end, opts.maxChars);
      if (cont.length > 0) found.push({ path: file, tier: 2, distance: found.length, matchLength: match, text: cont, hay: text, end });
    },
    path || undefined,
  );
  found.sort((a, b) => b.matchLength - a.matchLength || a.tier - b.tier || a.distance - b.distance);
  const out: CopySite[] = [];
  const seen = new Set<string>();
  const cursorOpen = openBrackets(q.prefix.slice(q.prefix.lastIndexOf('\n') + 1));
  for (const f of found) {
    // closing brackets for the cursor's line, not the copied line's (brackets.ts)
    const text = rebalanceCopy(f.text, f.hay.slice(f.hay.lastIndexOf('\n', f.end - 1) + 1, f.end), cursorOpen);
    const key = firstLine(text.trimStart()).trim();
    if (key.length === 0 || seen.has(key)) continue;
    seen.add(key);
    const site: CopySite = { path: f.path, matchLength: f.matchLength, text };
    if (f.tier === 0) site.offset = f.end <= cursor ? -countLines(doc, f.end, cursor) : countLines(doc, cursor, f.end);
    else if (f.tier === 2) site.line = countLines(f.hay, 0, f.end) + 1;
    out.push(site);
    if (out.length >= opts.maxSites) break;
  }
  return out;
}

export function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
}
