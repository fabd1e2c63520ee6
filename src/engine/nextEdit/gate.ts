/**
 * Whether to propose anything at all after an edit: a per-edit classifier (the "gate"), separate from the per-site
 * ranking. The ranking says which site is likeliest; the gate says whether the edit is one that gets carried at all —
 * a rename not yet carried through, against a one-off change (`true` → `false`, a use switched to another name that
 * already exists, a word of a comment). Its weights (weights.ts, NEXT_EDIT_GATE_WEIGHTS) are fitted by
 * training/next_edit_fit.ts on cases from other histories, never on the dev set; DEFAULTS.nextEditThreshold cuts it.
 */
import type { EditFeatures } from './features';
import type { EditContext } from './sites';

export const GATE_FEATURE_NAMES = [
  'bias',
  'top_site_logit',
  'second_site_logit',
  'log_sites',
  'log_sites_both_neighbours',
  'max_line_similarity',
  'log_nearest_distance',
  'ident_for_ident',
  'literal',
  'log_new_elsewhere',
  'insertion',
  'deletion',
  'punctuation_only',
  'declaration',
  'rename_shape',
  'comment_line',
  'keyword',
  'log_change_tokens',
  'log_old_chars',
  'old_defined_elsewhere',
  'new_defined_elsewhere',
  'blank_only',
  'new_wraps_old',
  'old_contains_new',
  'case_only',
  'log_old_count',
  'log_new_count',
  'old_remains_new_novel',
  'comment_site_share',
  'top_site_loose',
  'log_strict_sites',
] as const;

/** What the gate reads of one ranked site (its log-odds and the per-site features it pools). */
export interface GateSite {
  z: number;
  bothNeighbours: boolean;
  lineSimilarity: number;
  logDistance: number;
  commentSite: boolean;
  /** Found by a loose insertion generator (insertionSites.ts), not where both neighbours stand. */
  loose: boolean;
}

/** Logit of a site that is absent (no second site): far below any real one. */
const NO_SITE = -10;

/** Whole-token occurrences of `tok` in `text` (an identifier must not be part of a longer one), up to `cap`. */
export function countToken(text: string, tok: string, cap = 200): number {
  if (!tok) return 0;
  const word = /^[\w$]/.test(tok);
  let n = 0;
  for (let i = text.indexOf(tok); i >= 0 && n < cap; i = text.indexOf(tok, i + 1)) {
    if (word && (/[\w$]/.test(text[i - 1] ?? '') || /[\w$]/.test(text[i + tok.length] ?? ''))) continue;
    n++;
  }
  return n;
}

/** The gate's feature vector, in GATE_FEATURE_NAMES order; `sites` ranked best first (the session's penalties in z). */
export function gateFeatures(text: string, ctx: EditContext, ef: EditFeatures, sites: readonly GateSite[]): number[] {
  const so = ctx.change.old.filter((t) => t.trim());
  const sn = ctx.change.neu.filter((t) => t.trim());
  const oldT = so.join('');
  const newT = sn.join('');
  const oldCount = so.length === 1 ? countToken(text, so[0]) : 0;
  const newCount = sn.length === 1 ? countToken(text, sn[0]) : 0;
  const n = sites.length;
  const f = [
    1,
    sites[0]?.z ?? NO_SITE,
    sites[1]?.z ?? NO_SITE,
    Math.log1p(n),
    Math.log1p(sites.filter((s) => s.bothNeighbours).length),
    n ? Math.max(...sites.map((s) => s.lineSimilarity)) : 0,
    n ? Math.min(...sites.map((s) => s.logDistance)) : 0,
    ef.identForIdent,
    ef.literal,
    ef.logNewElsewhere,
    ef.insertion,
    ef.deletion,
    ef.punctuationOnly,
    ef.declaration,
    ef.renameShape,
    ef.commentLine,
    ef.keyword,
    ef.logChangeTokens,
    ef.logOldChars,
    ef.oldDefined,
    ef.newDefined,
    oldT === '' && newT === '' ? 1 : 0,
    oldT && newT.includes(oldT) ? 1 : 0,
    newT && oldT.includes(newT) ? 1 : 0,
    oldT && oldT.toLowerCase() === newT.toLowerCase() ? 1 : 0,
    Math.log1p(oldCount),
    Math.log1p(newCount),
    newCount === 0 && oldCount > 0 ? 1 : 0,
    n ? sites.filter((s) => s.commentSite).length / n : 0,
    sites[0]?.loose ? 1 : 0,
    Math.log1p(sites.filter((s) => !s.loose).length),
  ];
  return f.map((v) => (Number.isFinite(v) ? v : 0));
}
