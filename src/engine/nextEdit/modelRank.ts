/**
 * Next-edit drafts ranked with the model too: the best few sites of the heuristic ranking are scored by the model
 * (modelScore.ts: the site's line with the change against without it) and the two scores combine by the calibrated
 * weights in weights.ts (NEXT_EDIT_MODEL_WEIGHTS, fitted by training/next_edit_fit_model.ts on cases from other
 * histories, never the dev set), cut at DEFAULTS.nextEditModelThreshold.
 */
import { rankedSites, shown, type NextEditDraft, type NextEditRequest } from './nextEdit';
import { siteItems, type ScoreItem } from './modelScore';
import { NEXT_EDIT_MODEL_WEIGHTS } from './weights';
import { readEdit } from './sites';

/** Sites the model scores per edit (the heuristic's best). */
export const MODEL_SITES = 4;

export type TextScorer = (items: readonly ScoreItem[]) => Promise<number[]>;

/** The heuristic log-odds and the model's log-likelihood gain of the best sites (what the combination weighs). */
export async function modelFeatures(req: Pick<NextEditRequest, 'text' | 'edit' | 'penalties'>, score: TextScorer) {
  const ctx = readEdit(req.text, req.edit);
  const top = rankedSites(req).slice(0, MODEL_SITES);
  if (!ctx || top.length === 0) return [];
  const items = top.flatMap(({ s }) => siteItems(req.text, ctx.line, s.site.line, s.site.offset, s.site.delete, s.edit.insert));
  const lp = await score(items);
  return top.map((t, i) => ({ ...t, gain: lp[2 * i] - lp[2 * i + 1] }));
}

/** Up to k drafts ranked by the heuristic and the model together. */
export async function proposeWithModel(req: NextEditRequest, score: TextScorer): Promise<NextEditDraft[]> {
  const [a, b, c] = NEXT_EDIT_MODEL_WEIGHTS;
  const scored = (await modelFeatures(req, score)).map((x) => ({ s: x.s, z: a * x.z + b * x.gain + c }));
  return shown(scored, req.k, req.threshold);
}
