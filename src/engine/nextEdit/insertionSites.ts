/**
 * Sites of an insertion beyond the places where both its neighbours stand (sites.ts): a change that adds tokens is
 * often carried to places alike on one side only. Four generators, each token-aware:
 *  - `left`: after the same token(s) the insertion followed (`private ⟦readonly ⟧_c2p` → `private ⟦readonly ⟧_p2c`);
 *  - `right`: before the same token it preceded (`cells⟦, syncInfo⟧)` → `notebookDocument⟦, syncInfo⟧)`);
 *  - `lineStart`: an insertion at a line's first token, at the first token of the lines near it (`⟦// ⟧`, `⟦void ⟧`);
 *  - `lineEnd`: an insertion at a line's end, at the end of the lines near it (`⟦;⟧`, a comment's `⟦.⟧`).
 * A site that already reads the new tokens there is skipped; so is the user's own edit.
 */
import { alreadyNew, type EditContext, type Site, type SiteAnchor } from './sites';
import { isBlank, lineView, tokenize, type LineView } from './tokens';

/** Lines either side of the edit scanned for line-start and line-end sites (every line there is one). */
export const LINE_EDGE_WINDOW = 60;
/** Lines either side of the edit scanned for one-neighbour sites (a common token such as `)` is on most lines). */
export const ONE_SIDE_WINDOW = 500;

const solid = (ts: readonly string[]): string[] => ts.filter((t) => !isBlank(t));

/** Which loose generators apply to the edit (none unless it is a pure insertion of something solid). */
export function looseAnchors(ctx: EditContext): SiteAnchor[] {
  const { before, old, neu, after } = ctx.change;
  if (old.length > 0 || solid(neu).length === 0) return [];
  const out: SiteAnchor[] = [];
  if (ctx.left !== '') out.push('left');
  if (ctx.right !== '') out.push('right');
  if (solid(before).length === 0) out.push('lineStart');
  if (solid(after).length === 0) out.push('lineEnd');
  return out;
}

/** Whether an insertion at token index `i` of the line fits the generator `anchor`. */
function fits(anchor: SiteAnchor, ctx: EditContext, v: LineView, i: number): boolean {
  const { before, after } = ctx.change;
  const prev = before[before.length - 1] ?? '';
  const next = after[0] ?? '';
  const { ts, lastBefore, firstFrom } = v;
  switch (anchor) {
    case 'left': // the same token just before (and, when blank, the same solid one before that); blank after as the edit had it
      return ts[i - 1] === prev && lastBefore[i] === ctx.left && isBlank(ts[i] ?? '') === isBlank(next) && (firstFrom[i] !== '') === (ctx.right !== '');
    case 'right':
      return ts[i] === next && firstFrom[i] === ctx.right && isBlank(ts[i - 1] ?? '') === isBlank(prev) && (lastBefore[i] !== '') === (ctx.left !== '');
    case 'lineStart':
      return lastBefore[i] === '' && firstFrom[i] !== '' && (i === 0 || isBlank(ts[i - 1])) && !isBlank(ts[i] ?? '');
    case 'lineEnd':
      return firstFrom[i] === '' && lastBefore[i] !== '' && !isBlank(ts[i - 1] ?? '');
    default:
      return false;
  }
}

/** The loose sites of one line for the given generators (at most one site per offset). */
function lineLooseSites(ctx: EditContext, anchors: readonly SiteAnchor[], line: number, lineText: string, lineOffset: number): Site[] {
  const text = lineText.endsWith('\r') ? lineText.slice(0, -1) : lineText;
  const ts = tokenize(text);
  const v = lineView(ts);
  const out: Site[] = [];
  let pos = 0;
  for (let i = 0; i <= ts.length; i++) {
    if (i > 0) pos += ts[i - 1].length;
    const anchor = anchors.find((a) => fits(a, ctx, v, i));
    if (!anchor || alreadyNew(ts, i, ctx.change)) continue;
    const l = solid(ts.slice(Math.max(0, i - 3), i));
    const r = solid(ts.slice(i, i + 3));
    out.push({ line, lineText, offset: lineOffset + pos, delete: 0, column: pos, leftMatch: (l[l.length - 1] ?? '') === ctx.left, rightMatch: (r[0] ?? '') === ctx.right, anchor });
  }
  return out;
}

/** Every loose site of an insertion, in document order (empty for any other edit). */
export function looseInsertionSites(text: string, ctx: EditContext, maxLines: number): Site[] {
  const anchors = looseAnchors(ctx);
  if (anchors.length === 0) return [];
  const edge: readonly SiteAnchor[] = anchors.filter((a) => a === 'lineStart' || a === 'lineEnd');
  const out: Site[] = [];
  let offset = 0;
  for (let line = 0; offset <= text.length && line < maxLines && line <= ctx.line + Math.max(ONE_SIDE_WINDOW, LINE_EDGE_WINDOW); line++) {
    let end = text.indexOf('\n', offset);
    if (end < 0) end = text.length;
    const lineText = text.slice(offset, end);
    const d = Math.abs(line - ctx.line);
    const use = anchors.filter((a) => (edge.includes(a) ? d <= LINE_EDGE_WINDOW : d <= ONE_SIDE_WINDOW && lineText.includes(a === 'left' ? ctx.left : ctx.right)));
    // the edited line's own sites are the strict generator's
    if (use.length > 0 && line !== ctx.line && lineText.trim()) out.push(...lineLooseSites(ctx, use, line, lineText, offset));
    if (end >= text.length) break;
    offset = end + 1;
  }
  return out;
}
