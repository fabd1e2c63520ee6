/**
 * Where the user's change could be carried next: every other run of the same whole tokens in the document, with the
 * evidence the ranking weighs (features.ts). The change is read at token granularity on the edited line (tokens.ts),
 * so a rename of `Tokenizer` never proposes `BasicTokenizerFactory`; a pure insertion (nothing replaced) is anchored
 * on the tokens either side of it (insertionSites.ts adds the places alike on one side only, or at a line's start or
 * end; select.ts chooses which of all of them get ranked).
 */
import { isBlank, lineAt, lineView, tokenChange, tokenize, type TokenChange } from './tokens';
import type { UserEdit } from './types';

/** Lines of a document scanned for sites (nearest the edit first beyond this are not reached). */
export const MAX_SCAN_LINES = 4000;

/** The user's edit read as a token change on its line. */
export interface EditContext {
  change: TokenChange;
  /** The edited line (0-based) and its text after the edit. */
  line: number;
  newLine: string;
  /** The nearest non-blank token before and after the change ('' at the line's ends). */
  left: string;
  right: string;
  /** Offset of the changed tokens in the document (after the edit) and their length there. */
  start: number;
  length: number;
}

/**
 * How a site was found: `both` where the old tokens stand (or, for an insertion, where both its neighbours do); the
 * loose insertion generators of insertionSites.ts: `left` / `right` (one neighbour), `lineStart` / `lineEnd`.
 */
export type SiteAnchor = 'both' | 'left' | 'right' | 'lineStart' | 'lineEnd';

/** A place where the change's old tokens occur (or, for an insertion, its anchors). */
export interface Site {
  line: number;
  lineText: string;
  /** Offset and length in the document of the tokens to replace. */
  offset: number;
  delete: number;
  /** The site's offset within its line. */
  column: number;
  leftMatch: boolean;
  rightMatch: boolean;
  anchor: SiteAnchor;
}

const lastSolid = (ts: readonly string[]): string => [...ts].reverse().find((t) => !isBlank(t)) ?? '';
const firstSolid = (ts: readonly string[]): string => ts.find((t) => !isBlank(t)) ?? '';

/** The edit as a token change, or null when it spans lines or changes nothing. */
export function readEdit(text: string, edit: UserEdit): EditContext | null {
  if (edit.insert.includes('\n') || edit.old.includes('\n')) return null;
  if (edit.offset < 0 || edit.offset + edit.insert.length > text.length) return null;
  const { start, end } = lineAt(text, edit.offset);
  const newLine = text.slice(start, end);
  const at = edit.offset - start;
  const oldLine = newLine.slice(0, at) + edit.old + newLine.slice(at + edit.insert.length);
  const change = tokenChange(oldLine, newLine);
  if (!change || (change.old.length === 0 && change.neu.length === 0)) return null;
  let line = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < start; i = text.indexOf('\n', i + 1)) line++;
  const pre = change.before.join('').length;
  return {
    change,
    line,
    newLine,
    left: lastSolid(change.before),
    right: firstSolid(change.after),
    start: start + pre,
    length: change.neu.join('').length,
  };
}

function equalAt(ts: readonly string[], i: number, pat: readonly string[]): boolean {
  if (i < 0 || i + pat.length > ts.length) return false;
  for (let j = 0; j < pat.length; j++) if (ts[i + j] !== pat[j]) return false;
  return true;
}

/** Whether the tokens at `i` (where `old` occurs) already read as the change's new tokens (nothing to do there). */
export function alreadyNew(ts: readonly string[], i: number, ch: TokenChange): boolean {
  if (ch.neu.length === 0) return false;
  for (let j = 0; j + ch.old.length <= ch.neu.length; j++) {
    if (equalAt(ch.neu, j, ch.old) && equalAt(ts, i - j, ch.neu)) return true;
  }
  return false;
}

/** The sites of one line: where the old tokens occur, or for an insertion where both anchors stand side by side. */
function lineSites(ctx: EditContext, ts: readonly string[], line: number, lineText: string, lineOffset: number): Site[] {
  const { change: ch } = ctx;
  const out: Site[] = [];
  const pattern = ch.old.length > 0 ? ch.old : null;
  const v = pattern ? null : lineView([...ts]);
  let pos = 0;
  for (let i = 0; i <= ts.length; i++) {
    if (i > 0) pos += ts[i - 1].length;
    let match: boolean;
    if (pattern) match = equalAt(ts, i, pattern) && !alreadyNew(ts, i, ch);
    else match = v!.lastBefore[i] === ctx.left && v!.firstFrom[i] === ctx.right && (ctx.left !== '' || ctx.right !== '') && !alreadyNew(ts, i, ch) && ts[i - 1] === ch.before[ch.before.length - 1] && ts[i] === ch.after[0];
    if (!match) continue;
    const offset = lineOffset + pos;
    if (line === ctx.line && offset === ctx.start) continue; // the user's own edit
    const len = pattern ? pattern.join('').length : 0;
    out.push({
      line,
      lineText,
      offset,
      delete: len,
      column: pos,
      leftMatch: lastSolid(ts.slice(Math.max(0, i - 3), i)) === ctx.left,
      rightMatch: firstSolid(ts.slice(i + (pattern?.length ?? 0), i + (pattern?.length ?? 0) + 3)) === ctx.right,
      anchor: 'both',
    });
  }
  return out;
}

/** Every site of the change in the document, in document order. */
export function findSites(text: string, ctx: EditContext): Site[] {
  const out: Site[] = [];
  const probe = ctx.change.old.length > 0 ? ctx.change.old.join('') : ctx.right || ctx.left;
  let offset = 0;
  let line = 0;
  while (offset <= text.length && line < MAX_SCAN_LINES) {
    let end = text.indexOf('\n', offset);
    if (end < 0) end = text.length;
    const lineText = text.slice(offset, end);
    const ownLine = line === ctx.line;
    // tokenize only lines that hold the pattern's text at all
    if (lineText.includes(probe)) {
      const ts = tokenize(ownLine ? lineText : lineText);
      for (const s of lineSites(ctx, ts, line, lineText, offset)) {
        if (ownLine && s.offset < ctx.start + ctx.length && s.offset + s.delete > ctx.start) continue;
        out.push(s);
      }
    }
    if (end >= text.length) break;
    offset = end + 1;
    line++;
  }
  return out;
}
