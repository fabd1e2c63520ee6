/**
 * The last stage of a request: one ranking of every candidate draft. The strategy's drafts (in its own order, more
 * than k where it has them) and the drafts copied from the code are cleaned by the stop rules and post-processing
 * (the one place drafts are cleaned), de-duplicated, and the first k distinct model drafts plus the copies are
 * scored by the model: drafts whose log-probabilities are not yet the model's (superposed search scores, copies)
 * are verified together in one batched forward (verify.ts). When fewer than k distinct drafts remain, the model's
 * next candidates fill the places (fill.ts: the best untried first tokens, continued greedily). The best k by score are
 * returned, so k distinct drafts come back whenever the model offers them.
 */
import type { CopyOrigin, Draft, StrategyName } from '../protocol';
import type { CopySite } from './copy';
import type { DecodeContext, RawDraft } from './decode';
import { fillAlternatives } from './fill';
import { verifyTokens } from './verify';

export interface RankInput {
  /** The strategy's drafts, best first by its own measure. */
  model: readonly RawDraft[];
  /** Drafts copied from the code, with where they came from. */
  copies: readonly { raw: RawDraft; site: CopySite }[];
  k: number;
  strategy: StrategyName;
  /** Post-processed text, or null when nothing is left (the one cleaning step). */
  clean: (text: string) => string | null;
  /** Drop drafts whose cleaned text is empty or repeats an earlier one (off for fixed-length benchmarks). */
  dedupe: boolean;
  /** Keep the strategy's order instead of sorting by score (greedy: the model's own chain). */
  keepOrder: boolean;
  /** Evaluation: return every ranked candidate, not just k. */
  all?: boolean;
  /** Prompt entries the verification pass attends to. */
  verifyWindow: number;
  /** Tokens per draft the verification pass scores, given the drafts' count and longest length (default VERIFY_MAX_TOKENS). */
  verifyTokens?: (drafts: number, longest: number) => number;
}

interface Candidate {
  raw: RawDraft;
  text: string;
  /** The strategy produced it (a copy with the same text adds its origin and evidence to it). */
  model: boolean;
  origin?: CopyOrigin;
  /** Verified per-token log-probabilities (when the draft's own were not the model's). */
  lps?: number[];
}

/**
 * Ranking score of a draft with per-token model log-probabilities `lps`: the mean log-probability (length-normalised,
 * so a longer draft is not penalised for its length), plus, for a copy, a prior that grows with the length of the
 * context it matched (a long exact match is strong evidence that the text repeats). Calibrated on held-out corpus
 * cases (training/heldout_lines.py) and this repository's own (training/own_code_cases.mjs) with
 * training/copy_calibration.ts, never on the dev set; recalibrated with each shipped model (the last: base 2 → -1,
 * 0.3 → 0.2 per character, when the model trained on 35.9M → 44.7M tokens).
 */
export function draftScore(lps: readonly number[], origin?: Pick<CopyOrigin, 'matchLength' | 'renamed'>): number {
  if (lps.length === 0) return -Infinity;
  let sum = 0;
  for (const lp of lps) sum += lp;
  const mean = sum / lps.length;
  if (origin === undefined) return mean;
  // a mirrored line (mirror.ts) counts the characters that were equal around its renamed names: the same prior fits
  // it (training/copy_calibration.ts grid-searches a separate one; it gained nothing beyond noise)
  return mean + COPY_PRIOR.base + COPY_PRIOR.perChar * Math.min(origin.matchLength, COPY_PRIOR.cap);
}

export const COPY_PRIOR = { base: -1, perChar: 0.2, cap: 48 };

/** Batches of fillers tried when fewer than k distinct drafts remain (fill.ts). */
const FILL_ROUNDS = 3;

/**
 * Tokens of a draft the verification pass scores: the first ones decide the ranking (the copy prior weighs more than
 * the model's opinion of a long tail), and the padded batch costs rows × the longest row.
 */
export const VERIFY_MAX_TOKENS = 16;

function setOrigin(c: Candidate, site: CopySite): void {
  c.origin = {
    path: site.path,
    matchLength: site.matchLength,
    ...(site.offset !== undefined ? { offset: site.offset } : {}),
    ...(site.line !== undefined ? { line: site.line } : {}),
    ...(site.renamed ? { renamed: site.renamed } : {}),
  };
}

export async function rankDrafts(ctx: DecodeContext, input: RankInput): Promise<Draft[]> {
  const seen = new Map<string, Candidate>();
  const pool: Candidate[] = [];
  /** Adds a candidate unless it is empty or repeats one (returns whether it was added). */
  const take = (raw: RawDraft, site?: CopySite): boolean => {
    const text = input.clean(raw.text);
    if (text === null) return false;
    const key = text.trim();
    const same = seen.get(key);
    if (site && same) {
      // the strategy's draft is also in the code: it keeps its place and gains the copy's evidence
      if (same.origin === undefined) setOrigin(same, site);
      return false;
    }
    if (input.dedupe && (key.length === 0 || same)) return false;
    const c: Candidate = { raw, text, model: !site };
    if (site) setOrigin(c, site);
    seen.set(key, c);
    pool.push(c);
    return true;
  };
  for (const raw of input.model) {
    if (pool.length >= input.k) break;
    take(raw);
  }
  for (const { raw, site } of input.copies) take(raw, site);
  // Fewer distinct drafts than asked for: the model's next candidates fill the places (fill.ts).
  // A filler can clean to a draft already there (another spelling of the same line): then the next first tokens get
  // their turn, for at most FILL_ROUNDS batches.
  if (input.dedupe && !input.keepOrder && pool.length < input.k) {
    const usedFirst = new Set(pool.map((c) => c.raw.tokens[0]).filter((t): t is number => t !== undefined));
    for (let round = 0; round < FILL_ROUNDS && pool.length < input.k; round++) {
      const fillers = await fillAlternatives(ctx, input.k - pool.length, usedFirst, input.verifyWindow);
      if (fillers.length === 0) break;
      for (const raw of fillers) {
        if (raw.tokens[0] !== undefined) usedFirst.add(raw.tokens[0]);
        if (pool.length < input.k) take(raw);
      }
    }
  }
  // One forward for every candidate the model has not scored.
  const unscored = pool.filter((c) => c.raw.scored === false || !c.model);
  if (unscored.length > 0) {
    const longest = Math.max(...unscored.map((c) => c.raw.tokens.length));
    const keep = Math.min(VERIFY_MAX_TOKENS, input.verifyTokens?.(unscored.length, longest) ?? VERIFY_MAX_TOKENS);
    const lps = await verifyTokens(ctx, unscored.map((c) => c.raw.tokens.slice(0, keep)), input.verifyWindow);
    unscored.forEach((c, i) => (c.lps = lps[i]));
  }
  const ranked = pool.map((c) => {
    const d: Draft = {
      text: c.text,
      score: draftScore(c.lps ?? c.raw.lps, c.origin),
      tokens: c.raw.tokens.length,
      strategy: input.strategy,
    };
    if (c.origin) d.copiedFrom = c.origin;
    return { d, model: c.model };
  });
  if (input.keepOrder) return ranked.slice(0, input.k).map((r) => r.d);
  ranked.sort((a, b) => b.d.score - a.d.score);
  if (input.all) return ranked.map((r) => r.d);
  // Copies take at most k-1 places: the strategy's best draft is always among the k (its own view of the code).
  const out: Draft[] = [];
  const modelCount = ranked.filter((r) => r.model).length;
  let copies = 0;
  for (const r of ranked) {
    if (out.length >= input.k) break;
    if (!r.model && modelCount > 0 && copies >= input.k - 1) continue;
    if (!r.model) copies++;
    out.push(r.d);
  }
  return out;
}
