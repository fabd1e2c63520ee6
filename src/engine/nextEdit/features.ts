/**
 * The evidence for one site, as the numbers the calibrated ranking weighs (weights.ts, fitted by
 * training/next_edit_fit.ts on cases from other histories, never on the dev set).
 */
import type { EditContext, Site } from './sites';
import { jaccard } from './select';
import { isBlank, isIdent, isLiteral, tokenize } from './tokens';

export const FEATURE_NAMES = [
  'bias',
  'left_match',
  'right_match',
  'log_line_distance',
  'log_rank',
  'log_sites',
  'ident_for_ident',
  'literal',
  'log_new_elsewhere',
  'line_similarity',
  'same_indent',
  'insertion',
  'deletion',
  'short_old',
  'below',
  'punctuation_only',
  'declaration',
  'rename_shape',
  'same_line',
  'comment_line',
  'site_comment',
  'keyword',
  'log_change_tokens',
  'log_old_chars',
  'old_defined_elsewhere',
  'new_defined_elsewhere',
  'anchor_one_side',
  'anchor_line_edge',
  'left2_match',
  'same_token_index',
  'same_line_shape',
] as const;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether `name` is defined somewhere in `text` outside [from, to): a declaration keyword before it, or an assignment
 * or annotation after it at a line's start. A rename of the definition leaves the uses dangling (carry the change); a
 * use switched to another defined name leaves the old name's other uses valid (do not).
 */
function definedOutside(text: string, name: string, from: number, to: number): number {
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) return 0;
  const n = escape(name);
  const re = new RegExp(`(?:\\b(?:def|class|function|const|let|var|interface|type|enum)\\s+${n}\\b)|(?:^[ \\t]*(?:self\\.|this\\.)?${n}\\s*[:=](?!=))|(?:[(,]\\s*${n}\\s*[:,)=])`, 'gm');
  for (let m = re.exec(text); m; m = re.exec(text)) if (m.index < from || m.index >= to) return 1;
  return 0;
}

/** Keywords and literals whose change is rarely carried elsewhere (`false` → `true` at one place is a decision). */
const KEYWORDS = new Set([
  'true', 'false', 'True', 'False', 'null', 'undefined', 'None', 'this', 'self', 'return', 'const', 'let', 'var', 'async', 'await',
  'def', 'function', 'if', 'else', 'elif', 'for', 'while', 'in', 'of', 'not', 'and', 'or', 'is', 'new', 'export', 'import', 'public', 'private', 'static', 'readonly',
]);
/** A line that is a comment (or a doc-comment's continuation). */
const COMMENT_LINE = /^\s*(?:\/\/|#|\*|\/\*|"""|''')/;

/** A keyword before a name that declares it (the user renamed a declaration: its uses follow). */
const DECLARES = /(?:^|\s)(?:def|class|function|const|let|var|interface|type|enum|import|from|as|async def)\s*$/;

export type FeatureVector = number[];

/** Occurrences of `needle` in `text` outside [skipFrom, skipTo). */
function countOutside(text: string, needle: string, skipFrom: number, skipTo: number, cap = 50): number {
  if (!needle) return 0;
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0 && n < cap; i = text.indexOf(needle, i + 1)) if (i < skipFrom || i >= skipTo) n++;
  return n;
}

const indentOf = (s: string): string => /^[ \t]*/.exec(s)![0];


/** What every site of one edit shares: computed once per edit. */
export interface EditFeatures {
  identForIdent: number;
  literal: number;
  logNewElsewhere: number;
  insertion: number;
  deletion: number;
  shortOld: number;
  punctuationOnly: number;
  declaration: number;
  renameShape: number;
  commentLine: number;
  keyword: number;
  logChangeTokens: number;
  logOldChars: number;
  oldDefined: number;
  newDefined: number;
  lineTokens: Set<string>;
  indent: string;
  /** The solid tokens before the change on the edited line, and that line's shape before the edit (lineShape). */
  beforeSolid: string[];
  oldShape: string;
}

/** A line's solid tokens with every name written `i` and every literal `l`: lines of the same shape line up. */
export function lineShape(line: string, tokens = tokenize(line)): string {
  return tokens
    .filter((t) => !isBlank(t))
    .map((t) => (isIdent(t) ? 'i' : isLiteral(t) ? 'l' : t))
    .join(' ');
}

/** The solid tokens of a line that end at or before `column`. */
function solidBefore(ts: readonly string[], column: number): string[] {
  const out: string[] = [];
  for (let i = 0, pos = 0; i < ts.length && pos + ts[i].length <= column; pos += ts[i].length, i++) if (!isBlank(ts[i])) out.push(ts[i]);
  return out;
}

export function editFeatures(text: string, ctx: EditContext): EditFeatures {
  const { old, neu } = ctx.change;
  const solid = (ts: readonly string[]) => ts.filter((t) => t.trim());
  const so = solid(old);
  const sn = solid(neu);
  const neuText = neu.join('').trim();
  const lineStart = ctx.start - ctx.change.before.join('').length;
  return {
    identForIdent: so.length === 1 && sn.length === 1 && isIdent(so[0]) && isIdent(sn[0]) ? 1 : 0,
    literal: [...so, ...sn].some(isLiteral) ? 1 : 0,
    logNewElsewhere: Math.log1p(neuText.length >= 2 ? countOutside(text, neuText, ctx.start, ctx.start + ctx.length) : 0),
    insertion: so.length === 0 ? 1 : 0,
    deletion: sn.length === 0 ? 1 : 0,
    shortOld: old.join('').trim().length <= 2 ? 1 : 0,
    punctuationOnly: [...so, ...sn].every((t) => !/[\w$]/.test(t)) ? 1 : 0,
    declaration: DECLARES.test(ctx.change.before.join('')) ? 1 : 0,
    renameShape: so.length === 1 && sn.length === 1 && isIdent(so[0]) && isIdent(sn[0]) && countOutside(text, sn[0], ctx.start, ctx.start + ctx.length, 1) === 0 ? 1 : 0,
    commentLine: COMMENT_LINE.test(ctx.newLine) ? 1 : 0,
    keyword: [...so, ...sn].some((t) => KEYWORDS.has(t)) ? 1 : 0,
    logChangeTokens: Math.log1p(so.length + sn.length),
    logOldChars: Math.log1p(old.join('').trim().length),
    oldDefined: so.length === 1 ? definedOutside(text, so[0], lineStart, lineStart + ctx.newLine.length) : 0,
    newDefined: sn.length === 1 ? definedOutside(text, sn[0], lineStart, lineStart + ctx.newLine.length) : 0,
    lineTokens: new Set(tokenize(ctx.newLine).filter((t) => t.trim())),
    indent: indentOf(ctx.newLine),
    beforeSolid: solid(ctx.change.before),
    oldShape: lineShape([...ctx.change.before, ...old, ...ctx.change.after].join('')),
  };
}

/** One site's feature vector, in FEATURE_NAMES order; `rank` is its place by distance among the `sites` of its generator (0 nearest). */
export function siteFeatures(ctx: EditContext, ef: EditFeatures, site: Site, rank: number, sites: number): FeatureVector {
  const dist = Math.abs(site.line - ctx.line);
  const ts = tokenize(site.lineText);
  const tokens = new Set(ts.filter((t) => t.trim()));
  const pre = solidBefore(ts, site.column);
  const eb = ef.beforeSolid;
  return [
    1,
    site.leftMatch ? 1 : 0,
    site.rightMatch ? 1 : 0,
    Math.log1p(dist),
    Math.log1p(rank),
    Math.log1p(sites),
    ef.identForIdent,
    ef.literal,
    ef.logNewElsewhere,
    jaccard(ef.lineTokens, tokens),
    indentOf(site.lineText) === ef.indent ? 1 : 0,
    ef.insertion,
    ef.deletion,
    ef.shortOld,
    site.line > ctx.line ? 1 : 0,
    ef.punctuationOnly,
    ef.declaration,
    ef.renameShape,
    site.line === ctx.line ? 1 : 0,
    ef.commentLine,
    COMMENT_LINE.test(site.lineText) ? 1 : 0,
    ef.keyword,
    ef.logChangeTokens,
    ef.logOldChars,
    ef.oldDefined,
    ef.newDefined,
    site.anchor === 'left' || site.anchor === 'right' ? 1 : 0,
    site.anchor === 'lineStart' || site.anchor === 'lineEnd' ? 1 : 0,
    eb.length >= 2 && pre.length >= 2 && pre[pre.length - 1] === eb[eb.length - 1] && pre[pre.length - 2] === eb[eb.length - 2] ? 1 : 0,
    pre.length === eb.length ? 1 : 0,
    lineShape(site.lineText, ts) === ef.oldShape ? 1 : 0,
  ];
}
