/**
 * OpenAI-compatible servers (vLLM, LM Studio, `superdraft serve`), `POST /v1/completions` (the OpenAI legacy
 * Completions API: `prompt`, `suffix`, `n`, `logprobs`, `stop`, `max_tokens`, `stream` as server-sent events).
 * k drafts with `n` = k in one call; the SSE chunks carry `choices[].index`.
 *
 * The FIM prompt: vLLM rejects `suffix` (HTTP 400 "suffix is not currently supported"), so when the model's family is
 * known (superdraft.remoteFim when it names one, else the model's name) the prompt is built here with the family's
 * tokens and no `suffix` is sent. Only for an unknown family is `suffix` sent (LM Studio and others accept it); a 400
 * about it becomes one error that names superdraft.remoteFim (set to a family, the next request builds the prompt).
 *
 * `superdraft serve` is recognised from `GET /v1/models` (a model owned_by SERVE_OWNER): it gets prefix and suffix as
 * they are and the strategy in SERVE_STRATEGY_FIELD.
 */
import { safeMessage } from '../protocol/redact';
import { SERVE_OWNER, SERVE_STRATEGY_FIELD } from '../protocol/remote';
import { RemoteError, serverMessage} from './errors';
import { httpError, joinUrl, parseJson, request, type Exchange } from './http';
import { buildFimPrompt, fimStops, resolveFamily } from './fim';
import { sse } from './streams';
import type { Backend, DraftQuery, RemoteConfig, ServerAnswer, ServerDraft } from './types';

interface Chunk {
  model?: unknown;
  choices?: { index?: unknown; text?: unknown; logprobs?: { token_logprobs?: unknown } | null; finish_reason?: unknown }[];
  error?: unknown;
}

interface Models {
  data?: { id?: unknown; owned_by?: unknown }[];
}

export class OpenAiBackend implements Backend {
  /** From GET /v1/models, once: the model to use when none is set, and whether this is `superdraft serve`. */
  private models: Promise<{ first?: string; serve: boolean }> | undefined;

  constructor(private readonly cfg: RemoteConfig, private readonly base: string) {}

  async drafts(q: DraftQuery, ex: Exchange): Promise<ServerAnswer> {
    const info = await this.modelInfo(ex);
    const model = this.cfg.model || info.first;
    if (!model) throw new RemoteError('unknown_model', `${this.base} lists no model: set superdraft.remoteModel (CLI: --remote-model)`, 'superdraft.remoteModel');
    // remoteFim names a family, or auto: the model name's. Known: the prompt is built here and `suffix` is never sent.
    const family = info.serve ? undefined : resolveFamily(this.cfg.fim, model);
    try {
      return await this.complete(q, model, family, info.serve, ex);
    } catch (e) {
      if (!(e instanceof RemoteError && e.code === 'suffix_unsupported')) throw e;
      throw new RemoteError(
        'suffix_unsupported',
        `${this.base} rejects "suffix" (${e.message}) and the FIM tokens of ${JSON.stringify(model)} are unknown: set superdraft.remoteFim to its family (qwen, starcoder, deepseek, codellama)`,
        'superdraft.remoteFim',
        e.status,
      );
    }
  }

  private async complete(q: DraftQuery, model: string, family: ReturnType<typeof resolveFamily>, serve: boolean, ex: Exchange): Promise<ServerAnswer> {
    const url = joinUrl(this.base, '/v1/completions');
    const n = q.temperature === 0 ? 1 : q.k;
    const stop = [...(q.line ? ['\n'] : []), ...(family ? fimStops(family) : [])];
    const body: Record<string, unknown> = {
      model,
      ...(family ? { prompt: buildFimPrompt(family, q) } : { prompt: q.prefix, suffix: q.suffix }),
      n,
      max_tokens: q.maxTokens,
      temperature: q.temperature,
      top_p: q.topP,
      logprobs: 1,
      stream: true,
      ...(stop.length ? { stop } : {}),
      ...(q.seed !== undefined ? { seed: q.seed } : {}),
      ...(serve ? { [SERVE_STRATEGY_FIELD]: q.strategy } : {}),
    };
    const res = await request('POST', url, body, ex, this.cfg.apiKey);
    if (res.status !== 200) {
      const text = await res.text();
      const msg = serverMessage(text);
      if (res.status === 400 && /suffix/i.test(msg)) throw new RemoteError('suffix_unsupported', safeMessage(msg, [this.cfg.apiKey]), 'superdraft.remoteFim', 400);
      throw httpError(res.status, text, url, this.cfg.apiKey, model);
    }
    const drafts: ServerDraft[] = Array.from({ length: n }, () => ({ text: '', lps: [] as number[] }));
    let lpsOk = true;
    for await (const chunk of sse<Chunk>(res.body, ex, url)) {
      if (chunk.error !== undefined) throw new RemoteError('server', `${url} failed mid-stream: ${safeMessage(serverMessage(JSON.stringify(chunk)), [this.cfg.apiKey])}`, 'superdraft.endpoint');
      for (const c of chunk.choices ?? []) {
        const i = typeof c.index === 'number' ? c.index : 0;
        const d = drafts[i];
        if (!d) continue;
        if (typeof c.text === 'string') d.text += c.text;
        const lp = c.logprobs?.token_logprobs;
        if (Array.isArray(lp) && lp.every((x) => typeof x === 'number')) d.lps!.push(...(lp as number[]));
        else if (typeof c.text === 'string' && c.text.length > 0) lpsOk = false;
      }
    }
    for (const d of drafts) {
      if (!lpsOk || d.lps!.length === 0) delete d.lps;
      else d.tokens = d.lps!.length;
    }
    return { drafts, model, strategy: serve ? q.strategy : n === 1 ? 'greedy' : 'sampling' };
  }

  private modelInfo(ex: Exchange): Promise<{ first?: string; serve: boolean }> {
    this.models ??= (async () => {
      const url = joinUrl(this.base, '/v1/models');
      const res = await request('GET', url, undefined, ex, this.cfg.apiKey);
      const text = await res.text();
      if (res.status === 401 || res.status === 403) throw httpError(res.status, text, url, this.cfg.apiKey, this.cfg.model);
      if (res.status !== 200) return { serve: false };
      const data = parseJson<Models>(text, url).data ?? [];
      const first = data.find((m) => typeof m.id === 'string')?.id as string | undefined;
      return { ...(first ? { first } : {}), serve: data.some((m) => m.owned_by === SERVE_OWNER) };
    })();
    // a failure (cancelled, unreachable) is asked again next time
    this.models.catch(() => (this.models = undefined));
    return this.models;
  }
}
