/**
 * Superposed decoding (arXiv 2405.18400), adapted to code: k drafts advance together on ONE sequence and one
 * KV cache. Each step's input is Σ_d w_d·E[last token of draft d] with w = softmax of the drafts' scores (the
 * model's superposition input); the shared next-token distribution (temperature-sharpened, top-3k) is mixed
 * log-linearly with each draft's own n-gram distribution (static code n-grams + the prompt's, open files' and
 * workspace n-grams), and the k best of k×3k candidates survive. Drafts that end (EOS or a stop rule) go to a
 * finished pool. Beside them runs the lead, the model's own argmax chain: while it runs, the cache follows the lead
 * alone (input weight 1), so the search reads the likeliest path's distribution and the lead's log-probabilities are
 * exact; when it ends first the superposition takes over, and it stops with the search. The lead comes first, then
 * every distinct search draft, best search score first: the ranking (rank.ts) keeps the first k that stay distinct
 * after cleaning and, with `verify`, scores the search's drafts in one batched forward on the clean prompt cache
 * (their likelihood under the model with a clean context), together with any drafts copied from the code.
 */
import { uniqueDrafts } from '../../../protocol/draftKey';
import { DecodeContext, DraftState, RawDraft, Strategy, argmax, checkAbort, logSumExp, restoreCollidingCuts, topN } from '../decode';

export interface SuperposedOptions {
  /** Weight of the n-gram term in the log-linear mix (k=1 uses 0: a single draft needs no diversity). */
  alpha: number;
  /** Sharpening of the shared LM distribution (the paper's temperature). */
  temperature: number;
  /** Score given to a candidate that no n-gram order supports (log-probability floor). */
  unsupportedLogProb: number;
  /** Verify the drafts with a clean batched forward and rank by true likelihood (done by the ranking stage). */
  verify: boolean;
  /** Add the n-grams' best next token to the model's top-3k candidates of each draft. */
  ngramCandidate: boolean;
  /**
   * Run the model's own argmax chain as a lead draft on the same cache (k > 1): the cache follows the lead while it
   * runs, then the superposition of the search's drafts; the lead stops with the search.
   */
  lead: boolean;
}

/** The n-gram candidate must be the continuation of at least this share of its context's occurrences. */
const NGRAM_CANDIDATE = { minProb: 0.3 };

export const SUPERPOSED_DEFAULTS: SuperposedOptions = { alpha: 0.8, temperature: 1, unsupportedLogProb: -10, verify: true, ngramCandidate: true, lead: true };

export class SuperposedStrategy implements Strategy {
  readonly name = 'superposed' as const;
  constructor(readonly options: SuperposedOptions = SUPERPOSED_DEFAULTS) {}

  async decode(ctx: DecodeContext): Promise<RawDraft[]> {
    const { k, runtime } = ctx;
    const opts = this.options;
    const search = new Search(ctx, opts);
    const finished: DraftState[] = [];
    let alive: DraftState[] = [new DraftState(ctx.prompt.heal)];
    // The lead: the model's own argmax chain. While it runs, the one cache follows it alone, so its log-probabilities
    // are exact (no verification) and the search's drafts read the distribution of the likeliest path.
    let lead: Lead | undefined = k > 1 && opts.lead ? new Lead(ctx) : undefined;
    let kv = ctx.kv;
    let logits = ctx.lastLogits;
    let first = true;

    while (alive.length > 0) {
      checkAbort(ctx.signal);
      alive = search.step(alive, finished, logits, first);
      if (lead?.running && !lead.step(logits, first, search.sharedTop)) lead = undefined;
      first = false;
      // The lead never outlasts the search: on its own it would run on in block mode (measured: +16 % forwards,
      // +49 % decode time at the median), and where it ends first the search takes the cache back.
      if (alive.length === 0) break;
      let ids: number[];
      let weights: number[];
      if (lead?.running) {
        ids = [lead.lastToken];
        weights = [1];
      } else {
        // Superposed input: the alive drafts' last tokens, weighted by their normalised sequence probabilities.
        let lseScore = -Infinity;
        for (const d of alive) lseScore = logAdd(lseScore, d.score);
        ids = alive.map((d) => d.tokens[d.tokens.length - 1]);
        weights = alive.map((d) => Math.exp(d.score - lseScore));
      }
      const out = await runtime.forward({ ids, weights, batch: 1, seq: 1, k: ids.length, past: kv });
      ctx.stats.forwards++;
      kv = out.kv;
      logits = out.logits;
    }

    // Every distinct text, best search score first (the ranking takes the first k that stay distinct after cleaning).
    const ranked = [...finished, ...alive].sort((a, b) => b.score - a.score);
    restoreCollidingCuts(ranked, ctx);
    const drafts = uniqueDrafts(ranked, (d) => d.text).map((d): RawDraft => ({ ...d.toRaw(), ...(search.verifying ? { scored: false } : {}) }));
    // The lead comes first: one of the k the ranking scores, already scored by the model.
    const leadDraft = await lead?.finish();
    if (leadDraft) drafts.unshift(leadDraft);
    return drafts;
  }
}

/**
 * The lead: the argmax of the distribution its own path produced, at every step (the search's best token when the
 * lead has no healing constraint: the same logits, the same tie-break). Its log-probabilities are normalised once at
 * the end, every row in one native reduction (a JavaScript pass over the vocabulary per step cost ~0.3 ms a step on
 * the embedded model, about 10 % of a step). The rows it keeps: one vocabulary-wide row per token (48 × 152k floats,
 * 29 MB, at most, on Qwen2.5's vocabulary).
 */
class Lead {
  private readonly draft: DraftState;
  private rows: Float32Array;
  private n = 0;

  constructor(private readonly ctx: DecodeContext) {
    this.draft = new DraftState(ctx.prompt.heal);
    this.rows = new Float32Array(ctx.vocab * 8);
  }

  get running(): boolean {
    return !this.draft.done;
  }

  get lastToken(): number {
    return this.draft.tokens[this.draft.tokens.length - 1];
  }

  /**
   * Appends the argmax of `logits` (row 0); false when the lead would be empty (an end token first). `top`: the
   * search's best tokens of the same logits, unconstrained, best first (ties to the lower id, as argmax's).
   */
  step(logits: Float32Array, first: boolean, top: readonly number[] | null): boolean {
    const { ctx, draft } = this;
    const V = ctx.vocab;
    const healing = draft.healLeft.length > 0;
    const t = !healing && top?.length ? top[0]! : argmax(logits, V, 0, healing ? ctx.healing.allowed(draft.healLeft) : undefined);
    if (first && ctx.eos.has(t)) return false; // an empty completion is never a draft
    const before = draft.tokens.length;
    draft.push(ctx, t, 0);
    if (draft.tokens.length > before) {
      if ((this.n + 1) * V > this.rows.length) {
        const grown = new Float32Array(this.rows.length * 2);
        grown.set(this.rows);
        this.rows = grown;
      }
      this.rows.set(logits.subarray(0, V), this.n * V);
      this.n++;
    }
    return true;
  }

  /** The lead as a draft scored by the model (undefined when it has no token). */
  async finish(): Promise<RawDraft | undefined> {
    const { ctx, draft } = this;
    const m = draft.tokens.length; // a time-budget cut keeps a prefix of the rows' tokens
    if (m === 0) return undefined;
    const V = ctx.vocab;
    const lses = await ctx.runtime.rowLogSumExp(this.rows, m, V);
    const raw = draft.toRaw();
    const lps = raw.tokens.map((t, i) => this.rows[i * V + t] - lses[i]!);
    return { ...raw, lps, logprob: lps.reduce((a, b) => a + b, 0) };
  }
}

/** One step of the superposed search: the k best extensions of the alive drafts under the mixed score. */
class Search {
  private readonly alpha: number;
  private readonly nCand: number;
  private readonly ngramOut: Float64Array;
  /** The ranking verifies the drafts (their log-probabilities here are left at 0). */
  readonly verifying: boolean;
  /** The last step's best tokens for drafts without a healing constraint (null when no such draft stepped). */
  sharedTop: readonly number[] | null = null;

  constructor(
    private readonly ctx: DecodeContext,
    private readonly opts: SuperposedOptions,
  ) {
    this.alpha = ctx.k === 1 ? 0 : opts.alpha;
    this.nCand = 3 * ctx.k;
    this.ngramOut = new Float64Array(this.nCand + 1);
    this.verifying = ctx.k > 1 && opts.verify;
  }

  /** Extends `alive` by one token each from `logits`; ended drafts join `finished`. Returns the drafts still alive. */
  step(alive: DraftState[], finished: DraftState[], logits: Float32Array, first: boolean): DraftState[] {
    const { ctx, opts, alpha, nCand, verifying } = this;
    const { k, vocab: V } = ctx;
    // The model's log-probability (temperature 1) of a chosen token is logits[t] - lse1. The sharpened
    // distribution is only needed over each draft's top-3k tokens (renormalised there), whose ranking is the
    // ranking of the raw logits.
    // (With verification on, every draft token's log-probability is recomputed on the clean cache below, so the
    // normaliser is skipped here: one pass over the vocabulary less per step.)
    const lse1 = verifying ? 0 : logSumExp(logits, V, 0);
    const invT = 1 / opts.temperature;
    const cands: { parent: number; token: number; total: number; s: number }[] = [];
    // Drafts without a healing constraint share one candidate list (the distribution is shared).
    const lists: { shared?: { top: number[]; lse: number } } = {};
    const candidatesFor = (draft: DraftState): { top: number[]; lse: number } => {
      if (draft.healLeft.length === 0 && lists.shared) return lists.shared;
      const top = topN(logits, nCand, 0, V, draft.healLeft.length > 0 ? ctx.healing.allowed(draft.healLeft) : undefined);
      let lse = -Infinity;
      for (const t of top) lse = logAdd(lse, logits[t] * invT);
      const c = { top, lse };
      if (draft.healLeft.length === 0) lists.shared = c;
      return c;
    };
    for (let d = 0; d < alive.length; d++) {
      const draft = alive[d];
      const c = candidatesFor(draft);
      const lse = c.lse;
      let top = c.top;
      let probs: Float64Array | null = null;
      if (alpha > 0) {
        const hist = tail(ctx.prompt.contextIds, draft.tokens, 5);
        // The n-grams' own best continuation joins the model's top 3k: without it, the mix could only re-weight
        // tokens the model already ranks high, never bring in what the context repeats.
        if (opts.ngramCandidate && draft.healLeft.length === 0) {
          const extra = ctx.ngrams.draft(hist, 1, NGRAM_CANDIDATE)[0];
          if (extra !== undefined && extra < V && !top.includes(extra)) top = [...top, extra];
        }
        probs = ctx.ngrams.probabilities(hist, top, this.ngramOut);
      }
      for (let j = 0; j < top.length; j++) {
        const t = top[j];
        if (first && ctx.eos.has(t)) continue; // an empty completion is never a draft
        const lm = logits[t] * invT - lse;
        const ng = probs ? (probs[j] > 0 ? Math.log(probs[j]) : opts.unsupportedLogProb) : 0;
        const s = (1 - alpha) * lm + alpha * ng;
        cands.push({ parent: d, token: t, total: draft.score + s, s });
      }
    }
    this.sharedTop = lists.shared?.top ?? null;
    cands.sort((a, b) => b.total - a.total || a.parent - b.parent || a.token - b.token);
    const next: DraftState[] = [];
    const seen = new Set<number>();
    for (let c = 0; c < cands.length && c < 2 * k + alive.length && next.length < k; c++) {
      const cand = cands[c];
      // The first step seeds k distinct tokens.
      if (first && seen.has(cand.token)) continue;
      seen.add(cand.token);
      const d = alive[cand.parent].clone();
      d.score = cand.total;
      if (d.push(ctx, cand.token, verifying ? 0 : logits[cand.token] - lse1)) finished.push(d);
      else next.push(d);
    }
    finished.sort((a, b) => b.score - a.score);
    const bar = finished.length >= k ? finished[k - 1].score : -Infinity;
    return next.filter((d) => d.score > bar);
  }
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

function tail(context: number[], tokens: number[], n: number): number[] {
  const out: number[] = [];
  const need = Math.max(0, n - tokens.length);
  for (let i = Math.max(0, context.length - need); i < context.length; i++) out.push(context[i]);
  for (let i = Math.max(0, tokens.length - n); i < tokens.length; i++) out.push(tokens[i]);
  return out;
}
