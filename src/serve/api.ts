/**
 * The wire formats: OpenAI's legacy completions (`POST /v1/completions`, `GET /v1/models`) and llama.cpp's `POST /infill`,
 * mapped onto the engine's CompletionRequest and back. Pure functions, no I/O. Problems are ApiError (400) naming the field.
 *
 * "Passes": decoding passes are the sequences decoded. Superposed decoding decodes one sequence that carries all k drafts
 * (one pass for `n` = 4); sampling and beam decode k sequences (k rows per forward); greedy one. `forwards` counts the
 * model's forward calls (prefill chunks, decoding steps and the ranking's verification forward) for every strategy.
 */
import { randomBytes } from 'node:crypto';
import { STRATEGIES, type CompletionRequest, type CompletionResponse, type ContextSnippet, type Draft, type StrategyName } from '../protocol';
import { BOUNDS, DEFAULTS, draftCount } from '../protocol/defaults';
import { SUPERDRAFT_OWNED_BY, SUPERDRAFT_STRATEGY_FIELD } from './names';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = 'invalid_request_error',
    readonly param?: string,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  /** The server's strategy when a request names none. */
  strategy: StrategyName;
  /** Most characters of prompt text (prefix, suffix and extra context together). */
  maxPromptChars: number;
  /** The id `GET /v1/models` lists. */
  modelId: string;
}

type Body = Record<string, unknown>;

/** What a completion asks beyond the engine request: output shaping. */
export interface Parsed {
  req: CompletionRequest;
  stream: boolean;
  stop: string[];
  logprobs: boolean;
  /** OpenAI `user` (or the client header): one editor, whose newer request supersedes its older one. */
  user?: string;
}

const bad = (message: string, param?: string): never => {
  throw new ApiError(400, message, 'invalid_request_error', param);
};

function optInt(body: Body, name: string, min: number, max: number): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`"${name}" must be an integer in ${min}..${max}`, name);
  return v as number;
}

function optNum(body: Body, name: string, min: number, max: number): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(`"${name}" must be a number in ${min}..${max}`, name);
  return v as number;
}

function optStr(body: Body, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(`"${name}" must be a string`, name);
  return v as string;
}

function strategyOf(body: Body, opts: ApiOptions): StrategyName {
  const v = body[SUPERDRAFT_STRATEGY_FIELD];
  if (v === undefined || v === null) return opts.strategy;
  if (!STRATEGIES.includes(v as StrategyName)) bad(`"${SUPERDRAFT_STRATEGY_FIELD}" must be one of ${STRATEGIES.join(', ')}`, SUPERDRAFT_STRATEGY_FIELD);
  return v as StrategyName;
}

function checkPromptSize(chars: number, opts: ApiOptions): void {
  if (chars > opts.maxPromptChars) throw new ApiError(413, `the prompt is too large (${chars} characters; this server accepts ${opts.maxPromptChars})`, 'prompt_too_large');
}

function stopsOf(body: Body): string[] {
  const v = body.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > 4 || !list.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 256)) {
    bad('"stop" must be a string or an array of at most 4 non-empty strings', 'stop');
  }
  return list as string[];
}

/** The common sampling fields of both APIs. */
function sampling(body: Body): Pick<CompletionRequest, 'temperature' | 'topP' | 'seed'> {
  const temperature = optNum(body, 'temperature', BOUNDS.temperature.min, BOUNDS.temperature.max);
  const topP = optNum(body, 'top_p', BOUNDS.topP.min, BOUNDS.topP.max);
  const seed = optInt(body, 'seed', -(2 ** 31), 2 ** 31 - 1);
  return { ...(temperature !== undefined ? { temperature } : {}), ...(topP !== undefined ? { topP } : {}), ...(seed !== undefined ? { seed } : {}) };
}

/** `POST /v1/completions`: `prompt` is the text before the cursor, `suffix` the text after it, `n` the drafts. */
export function parseCompletions(body: Body, opts: ApiOptions): Parsed {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (typeof prompt !== 'string') bad('"prompt" must be a string (one prompt per request)', 'prompt');
  const suffix = optStr(body, 'suffix') ?? '';
  const languageId = optStr(body, 'language_id') ?? optStr(body, 'languageId') ?? '';
  const path = optStr(body, 'path') ?? '';
  checkPromptSize((prompt as string).length + suffix.length, opts);
  const logprobs = optInt(body, 'logprobs', 0, 5);
  if (body.echo === true) bad('"echo" is not supported', 'echo');
  const bestOf = optInt(body, 'best_of', 1, BOUNDS.k.max);
  const n = optInt(body, 'n', BOUNDS.k.min, BOUNDS.k.max) ?? 1;
  if (bestOf !== undefined && bestOf !== n) bad('"best_of" must equal "n" (every draft is returned)', 'best_of');
  const user = optStr(body, 'user');
  return {
    req: {
      prefix: prompt as string,
      suffix,
      languageId,
      path,
      strategy: strategyOf(body, opts),
      k: n,
      maxTokens: optInt(body, 'max_tokens', BOUNDS.maxTokens.min, BOUNDS.maxTokens.max) ?? DEFAULTS.maxTokens,
      mode: DEFAULTS.mode,
      speculative: DEFAULTS.speculative,
      ...sampling(body),
    },
    stream: body.stream === true,
    stop: stopsOf(body),
    logprobs: logprobs !== undefined,
    ...(user ? { user } : {}),
  };
}

/** `POST /infill` (llama.cpp): `input_prefix` + `prompt` before the cursor, `input_suffix` after, `input_extra` files. */
export function parseInfill(body: Body, opts: ApiOptions): Parsed {
  const prefix = (optStr(body, 'input_prefix') ?? '') + (optStr(body, 'prompt') ?? '');
  const suffix = optStr(body, 'input_suffix') ?? '';
  const extra = body.input_extra ?? [];
  if (!Array.isArray(extra) || extra.length > 32) bad('"input_extra" must be an array of at most 32 {filename, text}', 'input_extra');
  const snippets: ContextSnippet[] = (extra as unknown[]).map((e, i) => {
    const o = (e ?? {}) as Body;
    if (typeof o.text !== 'string' || (o.filename !== undefined && typeof o.filename !== 'string')) bad(`input_extra[${i}] must be {filename, text}`, 'input_extra');
    return { path: (o.filename as string | undefined) ?? '', text: o.text as string };
  });
  checkPromptSize(prefix.length + suffix.length + snippets.reduce((a, s) => a + s.text.length + s.path.length, 0), opts);
  const nPredict = optInt(body, 'n_predict', -1, BOUNDS.maxTokens.max);
  const budget = optInt(body, 't_max_predict_ms', 0, 600_000);
  if (body.stream === true) bad('"stream" is not supported on /infill (use /v1/completions)', 'stream');
  return {
    req: {
      prefix,
      suffix,
      languageId: '',
      path: optStr(body, 'filename') ?? '',
      snippets,
      strategy: strategyOf(body, opts),
      k: optInt(body, 'n_cmpl', BOUNDS.k.min, BOUNDS.k.max) ?? 1,
      maxTokens: nPredict === undefined || nPredict <= 0 ? DEFAULTS.maxTokens : nPredict,
      mode: DEFAULTS.mode,
      speculative: DEFAULTS.speculative,
      ...(budget ? { timeBudgetMs: budget } : {}),
      ...sampling(body),
    },
    stream: false,
    stop: stopsOf(body),
    logprobs: false,
  };
}

/** Decoding passes of a strategy for k drafts (see the header). */
export function passesOf(strategy: StrategyName, k: number): number {
  return strategy === 'superposed' || strategy === 'greedy' ? 1 : draftCount(strategy, k);
}

/** The text cut at the first stop string, and whether it was cut. */
export function applyStop(text: string, stops: string[]): { text: string; cut: boolean } {
  let end = text.length;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return { text: text.slice(0, end), cut: end < text.length };
}

export interface Choice {
  text: string;
  finish: 'stop' | 'length';
  draft: Draft;
}

export function choicesOf(parsed: Parsed, res: CompletionResponse): Choice[] {
  return res.drafts.map((d) => {
    const s = applyStop(d.text, parsed.stop);
    return { text: s.text, finish: s.cut || d.tokens < parsed.req.maxTokens ? 'stop' : 'length', draft: d };
  });
}

/** Superdraft's own account of a completion: strategy, passes, forwards, each draft's score and origin, timing. */
export function superdraftInfo(parsed: Parsed, res: CompletionResponse, waitMs: number) {
  return {
    strategy: res.strategy,
    passes: passesOf(res.strategy, parsed.req.k),
    forwards: res.timing.forwards,
    queue_ms: Math.round(waitMs * 10) / 10,
    drafts: res.drafts.map((d) => ({ score: d.score, tokens: d.tokens, strategy: d.strategy, ...(d.copiedFrom ? { copied_from: d.copiedFrom } : {}) })),
    timing: res.timing,
  };
}

export const newId = (prefix: string): string => `${prefix}-${randomBytes(12).toString('hex')}`;

export function usageOf(res: CompletionResponse) {
  const prompt = res.timing.prefillTokens + res.timing.reusedTokens;
  const completion = res.drafts.reduce((a, d) => a + d.tokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function completionsBody(parsed: Parsed, res: CompletionResponse, waitMs: number, model: string, tokenize: (s: string) => string[]) {
  return {
    id: newId('cmpl'),
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: choicesOf(parsed, res).map((c, index) => ({ text: c.text, index, logprobs: parsed.logprobs ? logprobsOf(c.text, tokenize) : null, finish_reason: c.finish })),
    usage: usageOf(res),
    superdraft: superdraftInfo(parsed, res, waitMs),
  };
}

/**
 * OpenAI's logprobs object for a draft: its tokens and their offsets. The engine does not report per-token
 * log-probabilities, so `token_logprobs` holds null for each token; the draft's ranking score is in `superdraft.drafts`.
 */
export function logprobsOf(text: string, tokenize: (s: string) => string[]) {
  const tokens = tokenize(text);
  const offsets: number[] = [];
  let at = 0;
  for (const t of tokens) {
    offsets.push(at);
    at += t.length;
  }
  return { tokens, token_logprobs: tokens.map(() => null), top_logprobs: null, text_offset: offsets };
}

/** `POST /infill`'s answer: one object for `n_cmpl` = 1, else an array of them (llama.cpp's multi-result form). */
export function infillBody(parsed: Parsed, res: CompletionResponse, waitMs: number, model: string) {
  const info = superdraftInfo(parsed, res, waitMs);
  const results = choicesOf(parsed, res).map((c, index) => ({
    index,
    content: c.text,
    model,
    tokens_predicted: c.draft.tokens,
    tokens_evaluated: res.timing.prefillTokens + res.timing.reusedTokens,
    stop: true,
    stop_type: c.finish === 'length' ? 'limit' : 'eos',
    truncated: false,
    tokens_cached: res.timing.reusedTokens,
    timings: {
      prompt_n: res.timing.prefillTokens,
      prompt_ms: res.timing.prefillMs,
      prompt_per_second: res.timing.prefillMs > 0 ? (res.timing.prefillTokens * 1000) / res.timing.prefillMs : 0,
      cache_n: res.timing.reusedTokens,
      predicted_n: c.draft.tokens,
      predicted_ms: res.timing.totalMs - res.timing.prefillMs,
      predicted_per_second: res.timing.totalMs > res.timing.prefillMs ? (c.draft.tokens * 1000) / (res.timing.totalMs - res.timing.prefillMs) : 0,
    },
    superdraft: info,
  }));
  return parsed.req.k === 1 && results.length === 1 ? results[0] : results;
}

export function modelsBody(opts: ApiOptions, created: number, extra: Record<string, unknown>) {
  return {
    object: 'list',
    data: [{ id: opts.modelId, object: 'model', created, owned_by: SUPERDRAFT_OWNED_BY, superdraft: { default_strategy: opts.strategy, strategies: STRATEGIES, max_n: BOUNDS.k.max, ...extra } }],
  };
}
