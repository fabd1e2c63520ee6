/**
 * Ollama, `POST /api/generate` (docs/api.md, "Generate a completion"): `model`, `prompt`, `suffix`, `raw`,
 * `options` (num_predict, temperature, top_p, seed, stop), streaming NDJSON by default. It has no `n`: k drafts are k
 * concurrent requests with distinct seeds, the first at temperature 0 (the model's own best guess). The model's
 * template places prompt and suffix with its FIM tokens; a model whose template has no suffix branch answers
 * "does not support suffix" (newer servers: "insert"): then, when the model's family is known (superdraft.remoteFim
 * or its name), the FIM prompt is built here and sent with `raw: true`, from then on for that model. Ollama returns
 * no log-probabilities on this endpoint: its drafts keep their order (the temperature-0 draft first).
 */
import { safeMessage } from '../protocol/redact';
import { RemoteError, serverMessage} from './errors';
import { httpError, joinUrl, request, type Exchange } from './http';
import { buildFimPrompt, fimStops, resolveFamily } from './fim';
import { ndjson } from './streams';
import type { Backend, DraftQuery, RemoteConfig, ServerAnswer, ServerDraft } from './types';

interface GenerateChunk {
  response?: unknown;
  done?: boolean;
  error?: unknown;
  eval_count?: unknown;
  model?: unknown;
}

const NO_SUFFIX = /does not support (suffix|insert)/i;

export class OllamaBackend implements Backend {
  /** Models that refused `suffix`: their prompt is built here (raw). */
  private readonly raw = new Set<string>();

  constructor(private readonly cfg: RemoteConfig, private readonly base: string) {}

  async drafts(q: DraftQuery, ex: Exchange): Promise<ServerAnswer> {
    const model = this.cfg.model;
    if (!model) throw new RemoteError('unknown_model', 'Ollama needs a model: set superdraft.remoteModel (CLI: --remote-model), e.g. qwen2.5-coder:1.5b-base', 'superdraft.remoteModel');
    const k = q.temperature === 0 ? 1 : q.k;
    const seed0 = q.seed ?? 1;
    const one = (i: number) => this.generate(q, i === 0 ? 0 : q.temperature, seed0 + i, ex);
    let drafts: ServerDraft[];
    try {
      drafts = await Promise.all(Array.from({ length: k }, (_, i) => one(i)));
    } catch (e) {
      if (!(e instanceof RemoteError && e.code === 'suffix_unsupported' && !this.raw.has(model))) throw e;
      const family = resolveFamily(this.cfg.fim, model);
      if (!family) {
        throw new RemoteError(
          'suffix_unsupported',
          `the Ollama model ${model} does not support suffix (fill-in-the-middle) and its family is unknown: use a base coder model (e.g. qwen2.5-coder:1.5b-base) in superdraft.remoteModel, or set superdraft.remoteFim to its family`,
          'superdraft.remoteModel',
        );
      }
      this.raw.add(model);
      this.cfg.notice?.(`Ollama model ${model} does not support suffix: building the ${family} FIM prompt in the client (raw)`);
      drafts = await Promise.all(Array.from({ length: k }, (_, i) => one(i)));
    }
    return { drafts, model, strategy: k === 1 ? 'greedy' : 'sampling' };
  }

  private async generate(q: DraftQuery, temperature: number, seed: number, ex: Exchange): Promise<ServerDraft> {
    const url = joinUrl(this.base, '/api/generate');
    const model = this.cfg.model;
    const family = this.raw.has(model) ? resolveFamily(this.cfg.fim, model) : undefined;
    const stop = [...(q.line ? ['\n'] : []), ...(family ? fimStops(family) : [])];
    const options = { num_predict: q.maxTokens, temperature, top_p: q.topP, seed, ...(stop.length ? { stop } : {}) };
    const body = family
      ? { model, prompt: buildFimPrompt(family, q), raw: true, stream: true, options }
      : { model, prompt: q.prefix, suffix: q.suffix, stream: true, options };
    const res = await request('POST', url, body, ex, this.cfg.apiKey);
    if (res.status !== 200) {
      const text = await res.text();
      const msg = serverMessage(text);
      if (NO_SUFFIX.test(msg)) throw new RemoteError('suffix_unsupported', safeMessage(msg, [this.cfg.apiKey]), 'superdraft.remoteModel', res.status);
      if (res.status === 404) throw new RemoteError('unknown_model', `Ollama has no model ${JSON.stringify(model)} (${safeMessage(msg, [this.cfg.apiKey])}): \`ollama pull ${model}\` or change superdraft.remoteModel`, 'superdraft.remoteModel', 404);
      throw httpError(res.status, text, url, this.cfg.apiKey, model);
    }
    let text = '';
    let tokens: number | undefined;
    for await (const chunk of ndjson<GenerateChunk>(res.body, ex, url)) {
      if (chunk.error !== undefined) {
        const msg = safeMessage(String(chunk.error), [this.cfg.apiKey]);
        if (NO_SUFFIX.test(msg)) throw new RemoteError('suffix_unsupported', msg, 'superdraft.remoteModel');
        throw new RemoteError('server', `Ollama failed mid-stream: ${msg}`, 'superdraft.endpoint');
      }
      if (typeof chunk.response === 'string') text += chunk.response;
      if (chunk.done && typeof chunk.eval_count === 'number') tokens = chunk.eval_count;
    }
    return { text, ...(tokens !== undefined ? { tokens } : {}) };
  }
}
