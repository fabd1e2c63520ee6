/**
 * The token view next-edit drafts work in: identifiers, numbers, one-line string literals, runs of blanks and single
 * other characters. A change is a run of whole tokens, so `Tokenizer` → `BasicTokenizer` never touches
 * `BasicTokenizerFactory`.
 */

const TOKEN = /[A-Za-z_$][\w$]*|\d[\w.]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\\n]|\\.)*`|[ \t]+|[^]/g;

export function tokenize(line: string): string[] {
  return line.match(TOKEN) ?? [];
}

export const isWord = (t: string): boolean => /^[A-Za-z_$\d]/.test(t);
export const isIdent = (t: string): boolean => /^[A-Za-z_$][\w$]*$/.test(t);
export const isBlank = (t: string): boolean => /^\s*$/.test(t);
export const isLiteral = (t: string): boolean => /^["'`\d]/.test(t);

/** The line around `offset` in `text`: its start and end offsets. */
export function lineAt(text: string, offset: number): { start: number; end: number } {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  let end = text.indexOf('\n', offset);
  if (end < 0) end = text.length;
  return { start, end };
}

/** A change of one line at token granularity: `before` + `old` + `after` was the line, `before` + `neu` + `after` is. */
export interface TokenChange {
  before: string[];
  old: string[];
  neu: string[];
  after: string[];
}

/** The narrowest run of whole tokens that differs between two versions of a line (null when equal). */
export function tokenChange(oldLine: string, newLine: string): TokenChange | null {
  if (oldLine === newLine) return null;
  const a = tokenize(oldLine);
  const b = tokenize(newLine);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return { before: a.slice(0, head), old: a.slice(head, a.length - tail), neu: b.slice(head, b.length - tail), after: a.slice(a.length - tail) };
}

/** Per token index of a line: the last solid token before it and the first solid one from it ('' where none). */
export interface LineView {
  ts: string[];
  lastBefore: string[];
  firstFrom: string[];
}

export function lineView(ts: string[]): LineView {
  const lastBefore = new Array<string>(ts.length + 1).fill('');
  const firstFrom = new Array<string>(ts.length + 1).fill('');
  for (let i = 1; i <= ts.length; i++) lastBefore[i] = isBlank(ts[i - 1]) ? lastBefore[i - 1] : ts[i - 1];
  for (let i = ts.length - 1; i >= 0; i--) firstFrom[i] = isBlank(ts[i]) ? firstFrom[i + 1] : ts[i];
  return { ts, lastBefore, firstFrom };
}
