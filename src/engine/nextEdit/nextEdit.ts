/**
 * Next-edit drafts without a model: the user's change carried to the other sites where the same whole tokens stand,
 * ranked by a calibrated logistic score (features.ts, weights.ts) and cut at a threshold so that an edit with nothing
 * alike proposes nothing. Pure and fast (one scan of the document), so the editor runs it in its own process.
 */
import { editFeatures, siteFeatures, type FeatureVector } from './features';
import { findSites, readEdit, type Site } from './sites';
import type { NextEdit, NextEditDraft, NextEditRequest, UserEdit } from './types';
import { NEXT_EDIT_WEIGHTS } from './weights';

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

/** Sites ranked per edit: the nearest (a common token in a long file stands at thousands of places). */
export const MAX_RANKED_SITES = 48;

/** The candidate sites of the user's edit (the MAX_RANKED_SITES nearest), nearest first, with features. */
export function candidateSites(text: string, edit: UserEdit): ScoredSite[] {
  const ctx = readEdit(text, edit);
  if (!ctx) return [];
  const sites = findSites(text, ctx);
  if (sites.length === 0) return [];
  const ef = editFeatures(text, ctx);
  const insert = ctx.change.neu.join('');
  const byDistance = [...sites].sort((a, b) => Math.abs(a.line - ctx.line) - Math.abs(b.line - ctx.line) || a.offset - b.offset);
  return byDistance.slice(0, MAX_RANKED_SITES).map((site, rank) => ({
    site,
    edit: { offset: site.offset, delete: site.delete, insert },
    features: siteFeatures(ctx, ef, site, rank, sites.length),
    old: text.slice(site.offset, site.offset + site.delete),
  }));
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
export function rankedSites(req: Pick<NextEditRequest, 'text' | 'edit' | 'penalties'>): { s: ScoredSite; z: number }[] {
  const scored = candidateSites(req.text, req.edit).map((s) => {
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

/** Up to k next-edit drafts, best first; none scores below the threshold. */
export function proposeNextEdits(req: NextEditRequest): NextEditDraft[] {
  return shown(rankedSites(req), req.k, req.threshold);
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
