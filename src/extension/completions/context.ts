/**
 * FIM context building from a document. Pure (no `vscode` import); the extension adapts a TextDocument to
 * `DocText`. All work is O(budget) string slicing so the extension host stays well under 5 ms per request.
 */
import type { ContextSnippet } from '../../protocol';

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
