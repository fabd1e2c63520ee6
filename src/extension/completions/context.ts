/**
 * FIM context building from a document. Pure (no `vscode` import); the extension adapts a TextDocument to
 * `DocText`. All work is O(budget) string slicing so the extension host stays well under 5 ms per request.
 */
import { LIMITS, type CompletionRequest, type ContextSnippet } from '../../protocol';

/** Minimal read access to a document's text by character offsets. */
export interface DocText {
  readonly length: number;
  slice(start: number, end: number): string;
}

export interface ContextBudgets {
  /** Characters of text before the cursor. */
  prefixChars: number;
  /** Characters of text after the cursor. */
  suffixChars: number;
  /** Characters of snippets from other editors, in all. */
  snippetChars: number;
  maxSnippets: number;
}

export const DEFAULT_BUDGETS: Readonly<ContextBudgets> = Object.freeze({
  prefixChars: 3000,
  suffixChars: 800,
  snippetChars: 1500,
  maxSnippets: 2,
});

export interface BuiltContext {
  prefix: string;
  suffix: string;
  /** Document offset where `prefix` starts. */
  prefixStart: number;
  /** Text after the cursor up to the end of its line (without the line break). */
  lineSuffix: string;
}

/**
 * Start offset of the prefix window. It sits on a line start and only moves when the window's raw start crosses a
 * chunk boundary (a quarter of the budget), so consecutive keystrokes give prompts whose beginning is unchanged and
 * the engine's KV cache of the prompt is reused.
 */
export function prefixWindowStart(doc: DocText, offset: number, budget: number): number {
  if (offset <= budget) return 0;
  const chunk = Math.max(1, Math.floor(budget / 4));
  const raw = offset - budget;
  const q = Math.min(offset, Math.ceil(raw / chunk) * chunk);
  // Move to the start of the next line after q (bounded search; long minified lines keep q).
  const look = doc.slice(q, Math.min(offset, q + 1000));
  const nl = look.indexOf('\n');
  return nl >= 0 ? q + nl + 1 : q;
}

/** Builds prefix/suffix around `offset`. `insert` replaces [insert.start, offset) (suggest-widget selection). */
export function buildContext(
  doc: DocText,
  offset: number,
  budgets: Pick<ContextBudgets, 'prefixChars' | 'suffixChars'> = DEFAULT_BUDGETS,
  insert?: { start: number; text: string },
): BuiltContext {
  const off = Math.max(0, Math.min(offset, doc.length));
  const start = prefixWindowStart(doc, off, budgets.prefixChars);
  let prefix: string;
  if (insert && insert.start >= start && insert.start <= off) {
    prefix = doc.slice(start, insert.start) + insert.text;
  } else {
    prefix = doc.slice(start, off);
  }
  const end = Math.min(doc.length, off + budgets.suffixChars);
  let suffix = doc.slice(off, end);
  if (end < doc.length) {
    // Cut a truncated suffix at a line boundary so it is stable while typing.
    const nl = suffix.lastIndexOf('\n');
    if (nl > 0) suffix = suffix.slice(0, nl + 1);
  }
  const eol = suffix.indexOf('\n');
  const lineSuffix = (eol >= 0 ? suffix.slice(0, eol) : suffix).replace(/\r$/, '');
  return { prefix, suffix, prefixStart: start, lineSuffix };
}

/**
 * Automatic (as-you-type) completions are skipped when the cursor is in the middle of a word or code follows it on
 * the line (only closing brackets, quotes and punctuation may follow).
 */
export function skipAutomatic(lineSuffix: string): boolean {
  return !/^[\s)\]}>'"`;,.:]*$/.test(lineSuffix);
}

/** A window of another editor's text, e.g. its visible range, offered as context. */
export interface SnippetCandidate {
  path: string;
  text: string;
}

/** Picks up to `maxSnippets` snippets within `snippetChars`, cutting each at line boundaries. */
export function pickSnippets(candidates: readonly SnippetCandidate[], budgets: Pick<ContextBudgets, 'snippetChars' | 'maxSnippets'> = DEFAULT_BUDGETS): ContextSnippet[] {
  const out: ContextSnippet[] = [];
  let left = budgets.snippetChars;
  const seen = new Set<string>();
  for (const c of candidates) {
    if (out.length >= budgets.maxSnippets || left < 80) break;
    if (seen.has(c.path) || !c.text.trim()) continue;
    seen.add(c.path);
    let text = c.text;
    if (text.length > left) {
      text = text.slice(0, left);
      const nl = text.lastIndexOf('\n');
      if (nl > 0) text = text.slice(0, nl + 1);
    }
    if (text.includes('\u0000')) continue;
    out.push({ path: c.path, text });
    left -= text.length;
  }
  return out;
}

/** Documents larger than this (characters) get no completions. */
export const MAX_DOCUMENT_CHARS = 1_500_000;

/** Heuristic binary check over a sample of text: NUL bytes or many control characters. */
export function looksBinary(sample: string): boolean {
  if (sample.includes('\u0000')) return true;
  let ctrl = 0;
  const n = Math.min(sample.length, 8192);
  for (let i = 0; i < n; i++) {
    const c = sample.charCodeAt(i);
    if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27) ctrl++;
  }
  return n > 0 && ctrl / n > 0.1;
}

/**
 * The request trimmed to the protocol's bounds (LIMITS), so the server never rejects it for size: the end of the
 * prefix and of paths is kept, the start of the suffix and of snippets; snippets past the count are dropped, and
 * when the total is still too large, snippets go first, then prefix and suffix are shortened. Requests within the
 * bounds (all the extension's usual ones) come back unchanged (the same object).
 */
export function fitRequest<T extends CompletionRequest>(req: T): T {
  const L = LIMITS;
  const tail = (s: string, n: number) => (s.length > n ? s.slice(s.length - n) : s);
  const head = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);
  const snippets = req.snippets ?? [];
  const total = (r: CompletionRequest) =>
    r.prefix.length + r.suffix.length + r.path.length + r.languageId.length + (r.snippets ?? []).reduce((a, sn) => a + sn.path.length + sn.text.length, 0);
  const within =
    req.path.length <= L.maxPathChars &&
    req.languageId.length <= L.maxLanguageIdChars &&
    req.prefix.length <= L.maxPrefixChars &&
    req.suffix.length <= L.maxSuffixChars &&
    snippets.length <= L.maxSnippets &&
    snippets.every((sn) => sn.path.length <= L.maxPathChars && sn.text.length <= L.maxSnippetChars) &&
    total(req) <= L.maxRequestChars;
  if (within) return req;
  const out: T = {
    ...req,
    path: tail(req.path, L.maxPathChars),
    languageId: head(req.languageId, L.maxLanguageIdChars),
    prefix: tail(req.prefix, L.maxPrefixChars),
    suffix: head(req.suffix, L.maxSuffixChars),
    ...(req.snippets ? { snippets: snippets.slice(0, L.maxSnippets).map((sn) => ({ path: tail(sn.path, L.maxPathChars), text: head(sn.text, L.maxSnippetChars) })) } : {}),
  };
  let over = total(out) - L.maxRequestChars;
  if (over > 0 && out.snippets?.length) {
    out.snippets = [];
    over = total(out) - L.maxRequestChars;
  }
  if (over > 0) {
    const cutSuffix = Math.min(over, Math.max(0, out.suffix.length - 4096));
    out.suffix = out.suffix.slice(0, out.suffix.length - cutSuffix);
    over -= cutSuffix;
    if (over > 0) out.prefix = out.prefix.slice(Math.min(out.prefix.length, over));
  }
  return out;
}
