/**
 * llama.cpp's `llama-server`, `POST /infill` (tools/server/README.md, "POST /infill: For code infilling"):
 * `input_prefix`, `input_suffix`, `input_extra` ([{filename, text}]) and every /completion option. k drafts in one
 * call with `n_cmpl` = k (the answer is then an array); a server started with fewer slots (`-np`) than k answers
 * "n_cmpl cannot be greater than the number of slots, please increase -np": then as many parallel requests as it has
 * slots (`GET /props`: total_slots), said once. The server applies the model's own FIM tokens (from the GGUF).
 * Log-probabilities with `n_probs` = 1 (completion_probabilities: `logprob`, or `probs[].prob` in older servers).
 */
import { safeMessage } from '../protocol/redact';
import { RemoteError, serverMessage} from './errors';
import { httpError, joinUrl, parseJson, request, type Exchange } from './http';
import type { Backend, DraftQuery, RemoteConfig, ServerAnswer, ServerDraft } from './types';

interface InfillResult {
  content?: unknown;
  tokens_predicted?: unknown;
  model?: unknown;
  completion_probabilities?: { logprob?: unknown; probs?: { prob?: unknown }[] }[];
}

const SLOTS_ERROR = /n_cmpl cannot be greater than the number of slots/i;

export class LlamaCppBackend implements Backend {
  /** The server's slots once it refused n_cmpl = k (undefined: n_cmpl works). */
  private slots: number | undefined;

  constructor(private readonly cfg: RemoteConfig, private readonly base: string) {}

  async drafts(q: DraftQuery, ex: Exchange): Promise<ServerAnswer> {
    if (this.slots === undefined || q.k <= this.slots) {
      const first = await this.infill(q, q.k, ex);
      if (first !== 'slots') return this.answer(first, q);
      this.slots = await this.totalSlots(ex);
      this.cfg.notice?.(`llama-server has ${this.slots} slot${this.slots === 1 ? '' : 's'} (fewer than k = ${q.k}): sending ${Math.min(q.k, this.slots)} parallel requests; start it with -np ${q.k} (or more) for k drafts in one call`);
    }
    const n = Math.max(1, Math.min(q.k, this.slots));
    const parts = await Promise.all(Array.from({ length: n }, (_, i) => this.infill({ ...q, seed: (q.seed ?? 1) + i }, 1, ex)));
    const drafts: ServerDraft[] = [];
    for (const p of parts) {
      if (p === 'slots') throw new RemoteError('slots', 'llama-server refused a single completion for lack of slots', 'superdraft.drafts');
      drafts.push(...p);
    }
    return this.answer(drafts, q);
  }

  private answer(drafts: ServerDraft[], q: DraftQuery): ServerAnswer {
    return { drafts, model: this.cfg.model || 'llama-server', strategy: q.temperature === 0 ? 'greedy' : 'sampling' };
  }

  private async infill(q: DraftQuery, n: number, ex: Exchange): Promise<ServerDraft[] | 'slots'> {
    const url = joinUrl(this.base, '/infill');
    const body: Record<string, unknown> = {
      input_prefix: q.prefix,
      input_suffix: q.suffix,
      input_extra: q.snippets.map((s) => ({ filename: s.path, text: s.text })),
      n_predict: q.maxTokens,
      n_cmpl: n,
      temperature: q.temperature,
      top_p: q.topP,
      cache_prompt: true,
      n_probs: 1,
      stream: false,
      ...(q.line ? { stop: ['\n'] } : {}),
      ...(q.timeBudgetMs ? { t_max_predict_ms: q.timeBudgetMs } : {}),
      ...(q.seed !== undefined && n === 1 ? { seed: q.seed } : {}),
    };
    const res = await request('POST', url, body, ex, this.cfg.apiKey);
    const text = await res.text();
    if (res.status !== 200) {
      const msg = serverMessage(text);
      if (SLOTS_ERROR.test(msg)) return 'slots';
      throw httpError(res.status, text, url, this.cfg.apiKey, this.cfg.model);
    }
    const json = parseJson<InfillResult | InfillResult[]>(text, url);
    const list = Array.isArray(json) ? json : [json];
    return list.map((r) => {
      if (typeof r?.content !== 'string') throw new RemoteError('malformed', `${url} answered without "content": ${safeMessage(JSON.stringify(r).slice(0, 120), [this.cfg.apiKey])}`, 'superdraft.endpoint');
      const lps = r.completion_probabilities?.map((p) =>
        typeof p.logprob === 'number' ? p.logprob : typeof p.probs?.[0]?.prob === 'number' ? Math.log(p.probs[0].prob) : NaN,
      );
      return {
        text: r.content,
        ...(lps && lps.length > 0 && lps.every(Number.isFinite) ? { lps } : {}),
        ...(typeof r.tokens_predicted === 'number' ? { tokens: r.tokens_predicted } : {}),
      };
    });
  }

  /** `GET /props` total_slots (1 when the server does not say). */
  private async totalSlots(ex: Exchange): Promise<number> {
    try {
      const url = joinUrl(this.base, '/props');
      const res = await request('GET', url, undefined, ex, this.cfg.apiKey);
      const text = await res.text();
      const n = res.status === 200 ? (parseJson<{ total_slots?: unknown }>(text, url).total_slots as number) : NaN;
      return Number.isInteger(n) && n > 0 ? n : 1;
    } catch (e) {
      if (e instanceof RemoteError && e.code === 'cancelled') throw e;
      return 1;
    }
  }
}
