/**
 * Drafts from a remote server as a CompletionResponse, the local engine's answer shape: the request's context
 * windowed for the server, the strategy mapped to what the server does, its drafts cleaned and de-duplicated, and —
 * with no local model loaded — copy and mirror candidates (src/engine/candidates/: the document and the open files'
 * snippets; no workspace index) ranked with them.
 *
 * Ranking without the model's term (the local ranking's model log-probability needs a local model):
 *  - the server's drafts keep the server's order, or are ordered by the server's mean log-probability per token
 *    where it returned one for every draft (llama.cpp n_probs, OpenAI-compatible logprobs);
 *  - a copied draft is placed by the ranking's copy features alone (rank.ts RANK_WEIGHTS: copy or mirror, matched
 *    characters, same document): one whose evidence is positive ranks right after the server's first draft, the
 *    others after the server's drafts; the server's first draft always stays first and copies take at most k-1
 *    places (chooseShown). Draft.score is the server's mean log-probability, or that evidence for a copy (NaN-free:
 *    0 where the server gave none).
 */
import { draftKey, uniqueDrafts } from '../protocol/draftKey';
import type { CompletionRequest, CompletionResponse, Draft, StrategyName } from '../protocol';
import { REMOTE_DEFAULTS, type RemoteOrigin } from '../protocol/remote';
import { COPY_DEFAULTS, findCopies, type CopySite } from '../engine/candidates/copy';
import { findMirrors } from '../engine/candidates/mirror';
import { MATCH_CAP, RANK_WEIGHTS, chooseShown } from '../engine/candidates/rank';
import { promptPath } from '../engine/prompt/prompt';
import { postProcess } from '../engine/text/postprocess';
import { resolveMode } from '../engine/text/stop';
import { RemoteError } from './errors';
import { Exchange } from './http';
import { LlamaCppBackend } from './llamaCpp';
import { OllamaBackend } from './ollama';
import { OpenAiBackend } from './openai';
import { meanLp, type Backend, type DraftQuery, type RemoteConfig } from './types';

export { RemoteError } from './errors';
export type { RemoteConfig } from './types';

/** Characters of context sent (servers run larger models than the local one; the prompt is still bounded). */
export const REMOTE_WINDOW = Object.freeze({ prefixChars: 8192, suffixChars: 2048, snippets: 4, snippetChars: 2048 });

export interface RemoteResponse extends CompletionResponse {
  /** The server's model and the strategy that ran. */
  server: { backend: RemoteConfig['backend']; model: string; ms: number; ran: StrategyName };
}

function createBackend(cfg: RemoteConfig, base: string): Backend {
  switch (cfg.backend) {
    case 'llama.cpp':
      return new LlamaCppBackend(cfg, base);
    case 'ollama':
      return new OllamaBackend(cfg, base);
    case 'openai':
      return new OpenAiBackend(cfg, base);
  }
}

/** The prefix's last `max` characters, from a line start when one is near. */
function prefixWindow(prefix: string, max: number): string {
  if (prefix.length <= max) return prefix;
  const cut = prefix.length - max;
  const nl = prefix.indexOf('\n', cut);
  return nl >= 0 && nl < cut + 256 ? prefix.slice(nl + 1) : prefix.slice(cut);
}

function suffixWindow(suffix: string, max: number): string {
  if (suffix.length <= max) return suffix;
  const nl = suffix.lastIndexOf('\n', max);
  return nl > 0 ? suffix.slice(0, nl + 1) : suffix.slice(0, max);
}

/**
 * A server's draft cleaned as the local engine cleans its own (src/engine/text/: the mode's stop rule — the line, or
 * the block the cursor opened — and the overlap with the text after the cursor); '' when nothing is left.
 */
export function cleanDraft(text: string, req: Pick<CompletionRequest, 'prefix' | 'suffix' | 'mode' | 'languageId'>): string {
  return postProcess(text.replace(/\r\n/g, '\n'), { prefix: req.prefix, suffix: req.suffix, mode: req.mode, languageId: req.languageId }) ?? '';
}

export class RemoteCompleter {
  readonly base: string;
  private readonly backend: Backend;

  constructor(readonly cfg: RemoteConfig) {
    this.base = (cfg.endpoint || REMOTE_DEFAULTS.endpoints[cfg.backend]).replace(/\/+$/, '');
    this.backend = createBackend(cfg, this.base);
  }

  /** k drafts for `req` (rejects with RemoteError; 'cancelled' when `signal` aborts): ask the server, clean and order its drafts, rank copies with them. */
  async complete(req: CompletionRequest, signal?: AbortSignal): Promise<RemoteResponse> {
    const t0 = performance.now();
    const greedy = req.strategy === 'greedy';
    const ex = new Exchange({ apiKey: this.cfg.apiKey, signal, timeoutMs: this.cfg.timeoutMs ?? REMOTE_DEFAULTS.timeoutMs });
    let answer;
    try {
      answer = await this.backend.drafts(queryFor(req), ex);
    } catch (e) {
      if (ex.reason) throw ex.error(this.base);
      throw e;
    } finally {
      ex.dispose();
    }
    const ms = performance.now() - t0;
    const origin: RemoteOrigin = { backend: this.cfg.backend, model: answer.model, msPerDraft: ms / Math.max(1, answer.drafts.length) };
    const ran = answer.strategy;
    const ranked = servedDrafts(answer.drafts, req, origin, ran);
    // Copies and mirrors from the document and the snippets, placed by their copy evidence.
    const tCopy = performance.now();
    const copying = req.copyDrafts !== false && req.k > 1 && !greedy;
    const copyCandidates = copying ? addCopies(ranked, req, ran) : 0;
    const drafts = chooseShown(ranked, req.k).map((r) => r.draft);
    return {
      drafts,
      strategy: req.strategy,
      timing: {
        totalMs: performance.now() - t0,
        prefillMs: 0,
        prefillTokens: 0,
        reusedTokens: 0,
        forwards: 0,
        acceptedSpeculative: 0,
        ...(copying ? { copyMs: performance.now() - tCopy, copyCandidates } : {}),
      },
      server: { backend: this.cfg.backend, model: answer.model, ms, ran },
    };
  }
}

/** What the server is asked: the local engine's windows and mode resolution (line mid-line, block after an opener). */
function queryFor(req: CompletionRequest): DraftQuery {
  const greedy = req.strategy === 'greedy';
  const line = resolveMode(req.mode, req.prefix, req.suffix, req.languageId) === 'line';
  return {
    prefix: prefixWindow(req.prefix, REMOTE_WINDOW.prefixChars),
    suffix: suffixWindow(req.suffix, REMOTE_WINDOW.suffixChars),
    path: promptPath(req),
    snippets: (req.snippets ?? []).slice(0, REMOTE_WINDOW.snippets).map((s) => ({ path: promptPath(s), text: s.text.slice(0, REMOTE_WINDOW.snippetChars) })),
    k: greedy ? 1 : req.k,
    maxTokens: req.maxTokens,
    temperature: greedy ? 0 : (req.temperature ?? 0.8),
    topP: req.topP ?? 0.95,
    line,
    strategy: req.strategy,
    ...(req.timeBudgetMs ? { timeBudgetMs: Math.max(req.timeBudgetMs, 200) } : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
  };
}

type RankedRemote = { draft: Draft; model: boolean; evidence: number };

/** The server's drafts: cleaned, distinct (draftKey), ordered by mean log-probability when all have one. */
function servedDrafts(raw: Awaited<ReturnType<Backend['drafts']>>['drafts'], req: CompletionRequest, origin: RemoteOrigin, ran: StrategyName): RankedRemote[] {
  const cleaned = raw.map((d, i) => ({ text: cleanDraft(d.text, req), mean: meanLp(d.lps), tokens: d.tokens, i })).filter((d) => draftKey(d.text) !== '');
  const served = uniqueDrafts(cleaned, (d) => d.text);
  if (served.length > 1 && served.every((d) => d.mean !== undefined)) served.sort((a, b) => b.mean! - a.mean! || a.i - b.i);
  return served.map((d) => ({
    draft: { text: d.text, score: d.mean ?? 0, tokens: d.tokens ?? Math.ceil(d.text.length / 3.5), strategy: ran, server: origin },
    model: true,
    evidence: 0,
  }));
}

/**
 * Copies and mirrors of the document and the snippets, ranked among the server's drafts by their copy evidence (the
 * ranking's copy features; there is no model term): strong ones after the server's first draft, weak ones last.
 * A copy the server also wrote marks that draft instead. Returns how many candidates were found.
 */
function addCopies(ranked: RankedRemote[], req: CompletionRequest, ran: StrategyName): number {
  const sites: CopySite[] = findCopies(req, null, { ...COPY_DEFAULTS, maxSites: Math.min(COPY_DEFAULTS.maxSites, req.k) }, req.path);
  sites.push(...findMirrors(req.prefix, req.suffix, 2, new Set(sites.map((s) => s.text.trim()))));
  const seen = new Set(ranked.map((r) => draftKey(r.draft.text)));
  const copies: RankedRemote[] = [];
  for (const site of sites) {
    const text = cleanDraft(site.text, req);
    const key = draftKey(text);
    if (!key) continue;
    const evidence =
      (site.renamed ? RANK_WEIGHTS.mirror : RANK_WEIGHTS.copy) + RANK_WEIGHTS.match * Math.min(site.matchLength, MATCH_CAP) + (site.path === '' ? RANK_WEIGHTS.document : 0);
    const same = ranked.find((r) => draftKey(r.draft.text) === key);
    const copiedFrom = {
      path: site.path,
      matchLength: site.matchLength,
      ...(site.offset !== undefined ? { offset: site.offset } : {}),
      ...(site.line !== undefined ? { line: site.line } : {}),
      ...(site.renamed ? { renamed: site.renamed } : {}),
    };
    if (same) {
      // the server's draft is also in the code: it keeps its place and says where else it is
      if (same.model && !same.draft.copiedFrom) same.draft.copiedFrom = copiedFrom;
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    copies.push({ draft: { text, score: evidence, tokens: Math.ceil(text.length / 3.5), strategy: ran, copiedFrom }, model: false, evidence });
  }
  copies.sort((a, b) => b.evidence - a.evidence);
  const strong = copies.filter((c) => c.evidence > 0);
  const weak = copies.filter((c) => c.evidence <= 0);
  ranked.splice(Math.min(1, ranked.length), 0, ...strong);
  ranked.push(...weak);
  return sites.length;
}

/** The error text for a user: the message (already free of the key) without a stack. */
export function describeRemoteError(e: unknown): string {
  return e instanceof RemoteError ? e.message : e instanceof Error ? e.message : String(e);
}
