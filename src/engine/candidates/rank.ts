/**
 * The last stage of a request: one ranking of every candidate draft. The strategy's drafts (in its own order, more
 * than k where it has them) and the drafts copied from the code are cleaned by the stop rules and post-processing
 * (the one place drafts are cleaned), de-duplicated, and the first k distinct model drafts plus the copies are
 * scored by the model: drafts whose log-probabilities are not yet the model's (superposed search scores, copies)
 * are verified together in one batched forward (verify.ts). When fewer than k distinct drafts remain, the model's
 * next candidates fill the places (fill.ts: the best untried first tokens, continued greedily). The best k by score are
 * returned, so k distinct drafts come back whenever the model offers them.
 */
import { draftKey } from '../../protocol/draftKey';
import type { CopyOrigin, Draft, StrategyName } from '../../protocol';
import { openBrackets } from '../text/brackets';
import { firstLine, type CopySite } from './copy';
import type { DecodeContext, RawDraft } from '../decode/decode';
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
  /** The text of the cursor's line before the cursor (the bracket feature). */
  lineBefore: string;
  /** Evaluation: every candidate, best first, with its ranking features (before the k are chosen). */
  onRanked?: (ranked: readonly { draft: Draft; features: RankFeatures; model: boolean }[]) => void;
  /** Prompt entries the verification pass attends to. */
  verifyWindow: number;
  /** Tokens per draft the verification pass scores, given the drafts' count and longest length (default VERIFY_MAX_TOKENS). */
  verifyTokens?: (drafts: number, longest: number) => number;
  /**
   * false: no forward at all (no verification pass, no fillers): the strategy's drafts keep their own scores and a
   * copy, which has none, only fills a place no model draft takes. For a large model's request past its time budget,
   * whose cut drafts the whole ones (verified) soon replace. Default true.
   */
  forwards?: boolean;
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

/** What the ranking knows of a candidate draft (the inputs of draftScore). */
export interface RankFeatures {
  /** Mean log-probability of its scored tokens (the model's own, or the verification pass's). */
  mean: number;
  /** Its length in tokens. */
  tokens: number;
  /** Copied from the code: the characters of context that matched, whether it is a mirrored line, whether it comes from the document itself. */
  copy?: { matchLength: number; mirror: boolean; document: boolean };
  /**
   * The cursor's line completed with the draft's first line (brackets.ts): it closes every bracket it opens, leaves
   * some open, or is broken (closes one it did not open, or leaves a string open).
   */
  line: 'closed' | 'open' | 'broken';
}

/**
 * Weights of the ranking score, a log-odds that the draft's first line is the line the user writes (logistic
 * regression). Fitted with training/copy_calibration.ts on held-out corpus cases (training/heldout_lines.py, with and
 * without --boundary) and this repository's own code (training/own_code_cases.mjs), never on the dev set; refitted
 * with each shipped model and each change to the candidates (last: the superposed search's lead draft). Relative
 * to the mean log-probability alone: a copy's evidence grows with its match length, a shorter draft is likelier at
 * equal mean (log tokens), a line that closes the brackets its line opened is likelier, one that closes more is less
 * likely.
 */
export const RANK_WEIGHTS = {
  bias: 0.176,
  mean: 0.64,
  logTokens: -1.265,
  copy: -0.464,
  mirror: 0.642,
  /** per character of matched context, up to MATCH_CAP */
  match: 0.06,
  document: 0.178,
  closed: 0.433,
  broken: -0.222,
};
/** Matched context beyond this (characters) adds no evidence. */
export const MATCH_CAP = 48;

/** The values RANK_WEIGHTS weigh for a candidate, key by key (the score is their weighted sum). */
export function rankVector(f: RankFeatures): Record<keyof typeof RANK_WEIGHTS, number> {
  const c = f.copy;
  return {
    bias: 1,
    mean: f.mean,
    logTokens: Math.log(f.tokens),
    copy: c && !c.mirror ? 1 : 0,
    mirror: c?.mirror ? 1 : 0,
    match: c ? Math.min(c.matchLength, MATCH_CAP) : 0,
    document: c?.document ? 1 : 0,
    closed: f.line === 'closed' ? 1 : 0,
    broken: f.line === 'broken' ? 1 : 0,
  };
}

/** The ranking score with `weights` (default the shipped ones); -Infinity for a draft without scored tokens. */
export function draftScore(f: RankFeatures, weights: typeof RANK_WEIGHTS = RANK_WEIGHTS): number {
  if (f.tokens === 0 || !Number.isFinite(f.mean)) return -Infinity;
  const v = rankVector(f);
  let s = 0;
  for (const key in weights) s += weights[key as keyof typeof RANK_WEIGHTS] * v[key as keyof typeof RANK_WEIGHTS];
  return s;
}

function lineShape(line: string): RankFeatures['line'] {
  const open = openBrackets(line);
  return open === null ? 'broken' : open.length === 0 ? 'closed' : 'open';
}

function meanOf(lps: readonly number[]): number {
  if (lps.length === 0) return -Infinity;
  let sum = 0;
  for (const lp of lps) sum += lp;
  return sum / lps.length;
}

/** Batches of fillers tried when fewer than k distinct drafts remain (fill.ts). */
const FILL_ROUNDS = 3;

/**
 * Tokens of a draft the verification pass scores: the first ones decide the ranking (a copy's matched context
 * weighs more than the model's opinion of a long tail), and the padded batch costs rows × the longest row.
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
    const key = draftKey(text);
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
  const forwards = input.forwards !== false;
  if (forwards && input.dedupe && !input.keepOrder && pool.length < input.k) {
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
  if (!forwards) {
    for (const c of unscored) if (!c.model) c.lps = [];
  } else if (unscored.length > 0) {
    const longest = Math.max(...unscored.map((c) => c.raw.tokens.length));
    const keep = Math.min(VERIFY_MAX_TOKENS, input.verifyTokens?.(unscored.length, longest) ?? VERIFY_MAX_TOKENS);
    const lps = await verifyTokens(ctx, unscored.map((c) => c.raw.tokens.slice(0, keep)), input.verifyWindow);
    unscored.forEach((c, i) => (c.lps = lps[i]));
  }
  const ranked = pool.map((c) => {
    const features: RankFeatures = {
      mean: meanOf(c.lps ?? c.raw.lps),
      tokens: c.raw.tokens.length,
      ...(c.origin ? { copy: { matchLength: c.origin.matchLength, mirror: c.origin.renamed !== undefined, document: c.origin.path === '' } } : {}),
      line: lineShape(input.lineBefore + firstLine(c.text)),
    };
    const draft: Draft = { text: c.text, score: draftScore(features), tokens: c.raw.tokens.length, strategy: input.strategy };
    if (c.origin) draft.copiedFrom = c.origin;
    return { draft, model: c.model, features };
  });
  if (input.keepOrder) return ranked.slice(0, input.k).map((r) => r.draft);
  ranked.sort((a, b) => b.draft.score - a.draft.score);
  input.onRanked?.(ranked);
  return chooseShown(ranked, input.k).map((r) => r.draft);
}

/**
 * The k drafts shown, from candidates best first. Copies take at most k-1 places: the strategy's best draft is always
 * among the k (its own view of the code).
 */
export function chooseShown<T extends { model: boolean }>(ranked: readonly T[], k: number): T[] {
  const out: T[] = [];
  const modelCount = ranked.filter((r) => r.model).length;
  let copies = 0;
  for (const r of ranked) {
    if (out.length >= k) break;
    if (!r.model && modelCount > 0 && copies >= k - 1) continue;
    if (!r.model) copies++;
    out.push(r);
  }
  return out;
}
