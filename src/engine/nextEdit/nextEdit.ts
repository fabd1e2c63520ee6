/**
 * Next-edit drafts without a model: the user's change carried to the other sites where the same whole tokens stand,
 * ranked by a calibrated logistic score (features.ts, weights.ts) and cut at a threshold so that an edit with nothing
 * alike proposes nothing. Pure and fast (one scan of the document), so the editor runs it in its own process.
 */
import { editFeatures, FEATURE_NAMES, siteFeatures, type EditFeatures, type FeatureVector } from './features';
import { gateFeatures, type GateSite } from './gate';
import { looseInsertionSites } from './insertionSites';
import { selectSites } from './select';
import { findSites, MAX_SCAN_LINES, readEdit, type EditContext, type Site } from './sites';
import type { NextEdit, NextEditDraft, NextEditRequest, UserEdit } from './types';
import { NEXT_EDIT_GATE_WEIGHTS, NEXT_EDIT_WEIGHTS } from './weights';

export type { NextEdit, NextEditDraft, NextEditRequest, UserEdit } from './types';
export { applyEdit, sameResult } from './apply';

/** A site with its proposed edit and features (what the ranking and its calibration read). */
export interface ScoredSite {
  site: Site;
  edit: NextEdit;
  features: FeatureVector;
  /** The site's text before the edit. */
  old: string;
}

/** The user's edit read once: its token change, the features all its sites share, and its candidate sites. */
export interface EditAnalysis {
  ctx: EditContext;
  ef: EditFeatures;
  sites: ScoredSite[];
}

/** The edit's analysis, or null when it is not a one-line change or has no site. */
export function analyseEdit(text: string, edit: UserEdit): EditAnalysis | null {
  const ctx = readEdit(text, edit);
  if (!ctx) return null;
  const strict = findSites(text, ctx);
  const taken = new Set(strict.map((s) => s.offset));
  const sites = [...strict, ...looseInsertionSites(text, ctx, MAX_SCAN_LINES).filter((s) => !taken.has(s.offset))];
  if (sites.length === 0) return null;
  const ef = editFeatures(text, ctx);
  const insert = ctx.change.neu.join('');
  const scored = selectSites(ctx, sites).map(({ site, rank, count }) => ({
    site,
    edit: { offset: site.offset, delete: site.delete, insert },
    features: siteFeatures(ctx, ef, site, rank, count),
    old: text.slice(site.offset, site.offset + site.delete),
  }));
  return { ctx, ef, sites: scored };
}

/** The candidate sites of the user's edit (those select.ts keeps), with features. */
export function candidateSites(text: string, edit: UserEdit): ScoredSite[] {
  return analyseEdit(text, edit)?.sites ?? [];
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function logit(f: FeatureVector, weights: readonly number[] = NEXT_EDIT_WEIGHTS): number {
  let z = 0;
  for (let i = 0; i < f.length; i++) z += f[i] * (weights[i] ?? 0);
  return z;
}

/** The key a session's penalties use for a site: the change and the site's line (offsets move as the user types). */
export function siteKey(old: string, insert: string, lineText: string): string {
  return `${old}\u0000${insert}\u0000${lineText.trim()}`;
}

/** The candidate sites with their heuristic log-odds (the session's penalties added), best first. */
export function rankedSites(req: Pick<NextEditRequest, 'text' | 'edit' | 'penalties'>, sites = candidateSites(req.text, req.edit)): { s: ScoredSite; z: number }[] {
  const scored = sites.map((s) => {
    const penalty = req.penalties?.get(siteKey(s.old, s.edit.insert, s.site.lineText)) ?? 0;
    return { s, z: logit(s.features) + penalty };
  });
  return scored.sort((a, b) => b.z - a.z);
}

/** The drafts shown from scored sites: best first, at most k, none below the threshold. */
export function shown(scored: readonly { s: ScoredSite; z: number }[], k: number, threshold: number): NextEditDraft[] {
  return [...scored]
    .sort((a, b) => b.z - a.z)
    .map(({ s, z }) => ({ ...s.edit, score: sigmoid(z), kind: 'same' as const, line: s.site.line, old: s.old }))
    .filter((d) => d.score >= threshold)
    .slice(0, k);
}

const F_SIMILARITY = FEATURE_NAMES.indexOf('line_similarity');
const F_DISTANCE = FEATURE_NAMES.indexOf('log_line_distance');
const F_COMMENT = FEATURE_NAMES.indexOf('site_comment');

/** What the gate reads of the ranked sites. */
export function gateSites(ranked: readonly { s: ScoredSite; z: number }[]): GateSite[] {
  return ranked.map(({ s, z }) => ({
    z,
    bothNeighbours: s.site.leftMatch && s.site.rightMatch,
    lineSimilarity: s.features[F_SIMILARITY],
    logDistance: s.features[F_DISTANCE],
    commentSite: s.features[F_COMMENT] === 1,
    loose: s.site.anchor !== 'both',
  }));
}

/** The edit's ranked sites and the gate's probability that any of them is wanted (null: no site at all). */
export function gatedSites(req: Pick<NextEditRequest, 'text' | 'edit' | 'penalties'>): { ranked: { s: ScoredSite; z: number }[]; p: number } | null {
  const a = analyseEdit(req.text, req.edit);
  if (!a) return null;
  const ranked = rankedSites(req, a.sites);
  return { ranked, p: sigmoid(logit(gateFeatures(req.text, a.ctx, a.ef, gateSites(ranked)), NEXT_EDIT_GATE_WEIGHTS)) };
}

/**
 * Up to k next-edit drafts, best first: nothing unless the gate's probability reaches the threshold, then the best
 * sites. A draft's score is the gate's probability scaled by its site's probability relative to the best site's (the
 * first draft scores the gate's probability).
 */
export function proposeNextEdits(req: NextEditRequest): NextEditDraft[] {
  const g = gatedSites(req);
  if (!g || g.p < req.threshold || g.ranked.length === 0) return [];
  const top = sigmoid(g.ranked[0].z);
  return g.ranked
    .slice(0, req.k)
    .map(({ s, z }) => ({ ...s.edit, score: (g.p * sigmoid(z)) / top, kind: 'same' as const, line: s.site.line, old: s.old }));
}

/**
 * The naive rule the issue measures against: repeat the change (as the edit gave it, characters not tokens) at the
 * nearest other occurrences of the replaced text.
 */
export function naiveNextEdits(text: string, edit: UserEdit, k: number): NextEdit[] {
  if (!edit.old) return [];
  const found: { offset: number; d: number }[] = [];
  const own = edit.offset;
  for (let i = text.indexOf(edit.old); i >= 0; i = text.indexOf(edit.old, i + 1)) {
    if (i + edit.old.length > own && i < own + edit.insert.length) continue;
    found.push({ offset: i, d: Math.abs(i - own) });
  }
  found.sort((a, b) => a.d - b.d);
  return found.slice(0, k).map((f) => ({ offset: f.offset, delete: edit.old.length, insert: edit.insert }));
}
