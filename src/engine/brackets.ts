/**
 * Copied lines adapted to the cursor's bracket depth. A copied continuation ends the way its own line needed: after
 * `setFiles(message.` the copy `files || []);` closes one parenthesis, but after `setFiles(new Map(message.` the line
 * needs `files || []));`. When the copied line closes exactly what its own line had open (a complete statement), the
 * run of closing brackets at its end is lengthened or shortened to close what the cursor's line has open instead.
 * A lexer that knows strings and line comments is enough here: only one line on each side is read.
 */

const OPEN = '([{';
const CLOSE = ')]}';

/**
 * Brackets left open at the end of `line` (outermost first), skipping strings and what follows `//` or `#`
 * (a line comment). `null` when the line closes a bracket it did not open (it continues an earlier line).
 */
export function openBrackets(line: string): string[] | null {
  const stack: string[] = [];
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '/' && line[i + 1] === '/') break;
    else if (c === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) break; // not this.#field
    else if (OPEN.includes(c)) stack.push(c);
    else if (CLOSE.includes(c)) {
      if (stack.length === 0 || OPEN.indexOf(stack[stack.length - 1]!) !== CLOSE.indexOf(c)) return null;
      stack.pop();
    }
  }
  return quote ? null : stack;
}

/** The brackets `text` closes below its own start (innermost first), or null if it is not a simple run of code. */
function closedBelow(text: string): string[] | null {
  const own: string[] = [];
  const closed: string[] = [];
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '/' && text[i + 1] === '/') break;
    else if (OPEN.includes(c)) own.push(c);
    else if (CLOSE.includes(c)) {
      if (own.length > 0) {
        if (OPEN.indexOf(own[own.length - 1]!) !== CLOSE.indexOf(c)) return null;
        own.pop();
      } else closed.push(OPEN[CLOSE.indexOf(c)]!);
    }
  }
  return quote || own.length > 0 ? null : closed;
}

/**
 * `copied` (the rest of a line) rewritten for the cursor's line: `siteLine` is the copied line's text before the
 * copy, `cursorLine` the cursor's line before the cursor. Unchanged unless the copy closes exactly what `siteLine`
 * left open, ending in a run of closing brackets (then `;`, `,` or spaces), and the cursor's line has a different
 * number open whose innermost ones match.
 */
export function rebalanceCopy(copied: string, siteLine: string, cursorLine: string): string {
  const nl = copied.indexOf('\n');
  const line = nl < 0 ? copied : copied.slice(0, nl);
  const rest = nl < 0 ? '' : copied.slice(nl);
  const site = openBrackets(siteLine);
  const cursor = openBrackets(cursorLine);
  const closed = closedBelow(line);
  if (!site || !cursor || !closed || cursor.length === site.length) return copied;
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
