/**
 * Copied lines adapted to the cursor's bracket depth. A copied continuation ends the way its own line needed: after
 * `setFiles(message.` the copy `files || []);` closes one parenthesis, but after `setFiles(new Map(message.` the line
 * needs `files || []));`. When the copied line closes exactly what its own line had open (a complete statement), the
 * run of closing brackets at its end is lengthened or shortened to close what the cursor's line has open instead.
 * A lexer that knows strings and line comments is enough here: only one line on each side is read.
 */
import { ANY_LINE, BracketScanner } from './lexer';

const OPEN = '([{';
const CLOSE = ')]}';

/**
 * The brackets of one line of code in order (the lexer's ANY_LINE: strings skipped, `//` and a `#` comment after a
 * space end the code, `this.#field` is code): `visit` gets each, returns false to stop. False when a string is left open.
 */
function eachBracket(line: string, visit: (c: string) => boolean): boolean {
  const sc = new BracketScanner(ANY_LINE, { str: '', blockComment: false });
  for (let i = 0; i < line.length && !sc.lineComment; ) {
    i += sc.feed(line, i);
    if (sc.bracket && !visit(sc.bracket)) return true;
  }
  return sc.state.str === '';
}

const matches = (open: string, close: string): boolean => OPEN.indexOf(open) === CLOSE.indexOf(close);

/** Brackets left open at the end of `line` (outermost first); null when it closes one it did not open. */
export function openBrackets(line: string): string[] | null {
  const stack: string[] = [];
  let ok = true;
  const done = eachBracket(line, (c) => {
    if (OPEN.includes(c)) stack.push(c);
    else if (stack.length > 0 && matches(stack[stack.length - 1]!, c)) stack.pop();
    else ok = false;
    return ok;
  });
  return done && ok ? stack : null;
}

/** The brackets `text` closes below its own start (innermost first), or null if it leaves its own open. */
function closedBelow(text: string): string[] | null {
  const own: string[] = [];
  const closed: string[] = [];
  let ok = true;
  const done = eachBracket(text, (c) => {
    if (OPEN.includes(c)) own.push(c);
    else if (own.length === 0) closed.push(OPEN[CLOSE.indexOf(c)]!);
    else if (matches(own[own.length - 1]!, c)) own.pop();
    else ok = false;
    return ok;
  });
  return done && ok && own.length === 0 ? closed : null;
}

/**
 * `copied` (the rest of a line) rewritten for the cursor's line: `siteLine` is the copied line's text before the
 * copy, `cursor` what the cursor's line has open before the cursor (`openBrackets` of it, computed once per request).
 * Unchanged unless the copy closes exactly what `siteLine` left open, ending in a run of closing brackets (then `;`,
 * `,` or spaces), and the cursor's line has a different number open whose innermost ones match.
 */
export function rebalanceCopy(copied: string, siteLine: string, cursor: string[] | null): string {
  if (!cursor) return copied;
  const site = openBrackets(siteLine);
  if (!site || cursor.length === site.length) return copied;
  const nl = copied.indexOf('\n');
  const line = nl < 0 ? copied : copied.slice(0, nl);
  const rest = nl < 0 ? '' : copied.slice(nl);
  const closed = closedBelow(line);
  if (!closed) return copied;
  // the copy must close the whole of what its line had open (innermost first)
  if (closed.length !== site.length || closed.some((b, i) => b !== site[site.length - 1 - i])) return copied;
  const m = /([)\]}]+)([;,]?\s*)$/.exec(line);
  if (!m) return copied;
  const run = m[1]!;
  const head = line.slice(0, m.index);
  const tail = m[2]!;
  if (cursor.length > site.length) {
    // the innermost ones must agree; the cursor's extra (outer) brackets are closed after the run
    const inner = cursor.slice(cursor.length - site.length);
    if (inner.some((b, i) => b !== site[i])) return copied;
    const extra = cursor.slice(0, cursor.length - site.length).reverse().map((b) => CLOSE[OPEN.indexOf(b)]).join('');
    return head + run + extra + tail + rest;
  }
  // fewer open at the cursor: drop the outermost closers, if the run has them
  const drop = site.length - cursor.length;
  const inner = site.slice(site.length - cursor.length);
  if (run.length < drop || inner.some((b, i) => b !== cursor[i])) return copied;
  return head + run.slice(0, run.length - drop) + tail + rest;
}
