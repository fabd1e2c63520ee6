/**
 * Loopback HTTP servers that answer as the three server kinds document their APIs (each section cited below), with
 * the failures a user meets: a wrong API key, too few slots, a model without FIM, a server that rejects `suffix`, a
 * slow server, a server killed mid-response. Every request is recorded (path, Authorization header, JSON body) and so
 * is the moment the server saw a client close a connection before its answer was complete.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  auth: string | undefined;
  body: Record<string, unknown>;
}

export interface Behaviour {
  /** Every request must carry `Authorization: Bearer <key>`; otherwise 401. */
  key?: string;
  /** Wait this long before answering (ms). */
  delayMs?: number;
  /** Answer part of the body, then destroy the socket (the server process killed mid-response). */
  killMidResponse?: boolean;
}

export interface LoopbackServer {
  url: string;
  requests: Recorded[];
  /** performance.now() when the server saw a connection close before its response was complete. */
  earlyCloses: number[];
  /** Resolves at the next early close. */
  nextEarlyClose(): Promise<number>;
  close(): Promise<void>;
}

/** Distinct completions of `function add(a, b) {\n  ` by draft number. */
export const COMPLETIONS = ['return a + b;', 'return b + a;', 'return (a + b);', 'return Number(a) + Number(b);', 'return [a, b].reduce((x, y) => x + y);'];

type Handler = (req: Recorded, res: http.ServerResponse, b: Behaviour) => void | Promise<void>;

function serve(b: Behaviour, handle: Handler): Promise<LoopbackServer> {
  const requests: Recorded[] = [];
  const earlyCloses: number[] = [];
  let waiters: ((t: number) => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    res.on('close', () => {
      if (!res.writableFinished) {
        const t = performance.now();
        earlyCloses.push(t);
        for (const w of waiters.splice(0)) w(t);
      }
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const rec: Recorded = { method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} };
      requests.push(rec);
      if (b.key !== undefined && req.headers.authorization !== `Bearer ${b.key}`) {
        // OpenAI / vLLM / llama.cpp --api-key answer 401 with an error object; the wrong key is not echoed back.
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Invalid API Key', type: 'authentication_error', code: 401 } }));
        return;
      }
      const go = () => void Promise.resolve(handle(rec, res, b)).catch(() => res.destroy());
      if (b.delayMs && rec.method === 'POST') setTimeout(go, b.delayMs);
      else go();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        earlyCloses,
        nextEarlyClose: () => new Promise((r) => waiters.push(r)),
        close: () =>
          new Promise((r) => {
            waiters = [];
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Writes `lines` one by one, `gapMs` apart; with `kill`, destroys the socket after half of them. */
async function stream(res: http.ServerResponse, type: string, lines: string[], b: Behaviour, gapMs = 2): Promise<void> {
  res.writeHead(200, { 'content-type': type });
  const stopAt = b.killMidResponse ? Math.max(1, Math.floor(lines.length / 2)) : lines.length;
  for (let i = 0; i < stopAt; i++) {
    if (res.destroyed) return;
    res.write(lines[i]);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  if (b.killMidResponse) res.socket?.destroy();
  else res.end();
}

/** Splits a completion into streamed pieces of a few characters (tokens). */
function pieces(text: string): string[] {
  return text.match(/.{1,4}/gs) ?? [];
}

/**
 * llama.cpp `llama-server` (tools/server/README.md):
 *  - "POST /infill: For code infilling": input_prefix, input_suffix, input_extra, and the /completion options;
 *  - "POST /completion": `n_cmpl` (alias `n`) completions, at most the slots (`-np`): above, the error
 *    "n_cmpl cannot be greater than the number of slots, please increase -np" (HTTP 400, invalid_request_error);
 *    several completions come back as a JSON array; `n_probs` adds completion_probabilities with `logprob`;
 *  - "GET /props": total_slots.
 */
export function llamaCppServer(b: Behaviour & { slots: number }): Promise<LoopbackServer> {
  let busy = 0;
  return serve(b, async (req, res) => {
    if (req.method === 'GET' && req.path === '/props') return json(res, 200, { total_slots: b.slots, model_path: '/models/qwen2.5-coder-1.5b-q8_0.gguf' });
    if (req.method !== 'POST' || req.path !== '/infill') return json(res, 404, { error: { code: 404, message: 'File Not Found', type: 'not_found_error' } });
    const n = Number(req.body.n_cmpl ?? req.body.n ?? 1);
    if (n > b.slots) return json(res, 400, { error: { code: 400, message: 'n_cmpl cannot be greater than the number of slots, please increase -np', type: 'invalid_request_error' } });
    busy++;
    try {
      const offset = req.body.seed !== undefined ? Number(req.body.seed) - 1 : 0;
      const results = Array.from({ length: n }, (_, i) => {
        const content = COMPLETIONS[(offset + i) % COMPLETIONS.length]!;
        const toks = pieces(content);
        return {
          index: i,
          content,
          tokens_predicted: toks.length,
          completion_probabilities: toks.map((t, j) => ({ id: j, token: t, logprob: -0.1 * (offset + i + 1), bytes: [...Buffer.from(t)], top_logprobs: [] })),
          stop: true,
        };
      });
      const body = JSON.stringify(n === 1 ? results[0] : results);
      if (b.killMidResponse) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.write(body.slice(0, body.length >> 1));
        await new Promise((r) => setTimeout(r, 5));
        res.socket?.destroy();
        return;
      }
      json(res, 200, n === 1 ? results[0] : results);
    } finally {
      busy--;
    }
  });
}

/**
 * Ollama (docs/api.md):
 *  - "Generate a completion", `POST /api/generate`: model, prompt, suffix, raw, options (num_predict, temperature,
 *    top_p, seed, stop); a stream of JSON objects (NDJSON) by default, `{"model","created_at","response","done":false}`
 *    then a last object with `"done": true` and eval_count; no `n`;
 *  - an unknown model: HTTP 404 `{"error": "model \"x\" not found, try pulling it first"}`;
 *  - a model whose template has no suffix: HTTP 400 `{"error": "<model> does not support suffix"}` (issue 29's quote;
 *    newer servers say "insert");
 *  - errors mid-stream come as an object with "error".
 */
export function ollamaServer(b: Behaviour & { models: string[]; noSuffix?: string[] }): Promise<LoopbackServer> {
  return serve(b, async (req, res) => {
    if (req.method !== 'POST' || req.path !== '/api/generate') return json(res, 404, { error: 'not found' });
    const model = String(req.body.model);
    if (!b.models.includes(model)) return json(res, 404, { error: `model "${model}" not found, try pulling it first` });
    if (req.body.suffix !== undefined && b.noSuffix?.includes(model)) return json(res, 400, { error: `registry.ollama.ai/library/${model} does not support suffix` });
    const options = (req.body.options ?? {}) as { temperature?: number; seed?: number };
    const idx = options.temperature === 0 ? 0 : (Number(options.seed ?? 0) % COMPLETIONS.length);
    const toks = pieces(COMPLETIONS[idx]!);
    const lines = toks.map((t) => JSON.stringify({ model, created_at: new Date().toISOString(), response: t, done: false }) + '\n');
    lines.push(JSON.stringify({ model, created_at: new Date().toISOString(), response: '', done: true, done_reason: 'stop', eval_count: toks.length }) + '\n');
    await stream(res, 'application/x-ndjson', lines, b);
  });
}

/**
 * An OpenAI-compatible server (the OpenAI API reference, "Completions" (legacy): `POST /v1/completions` with prompt,
 * suffix, n, logprobs, stop, max_tokens, stream; streamed as server-sent events `data: {chunk}` with
 * choices[].index, ending with `data: [DONE]`; `GET /v1/models` lists `{id, object: "model", owned_by}`). With
 * `rejectSuffix` it is vLLM, whose completions endpoint answers HTTP 400 "suffix is not currently supported".
 */
export function openAiServer(b: Behaviour & { models: string[]; rejectSuffix?: boolean; owner?: string }): Promise<LoopbackServer> {
  return serve(b, async (req, res) => {
    if (req.method === 'GET' && req.path === '/v1/models') {
      return json(res, 200, { object: 'list', data: b.models.map((id) => ({ id, object: 'model', created: 0, owned_by: b.owner ?? 'vllm' })) });
    }
    if (req.method !== 'POST' || req.path !== '/v1/completions') return json(res, 404, { object: 'error', message: 'Not Found', type: 'NotFoundError', code: 404 });
    const model = String(req.body.model);
    if (!b.models.includes(model)) return json(res, 404, { object: 'error', message: `The model \`${model}\` does not exist.`, type: 'NotFoundError', param: null, code: 404 });
    if (b.rejectSuffix && req.body.suffix !== undefined) return json(res, 400, { object: 'error', message: 'suffix is not currently supported', type: 'BadRequestError', param: null, code: 400 });
    const n = Number(req.body.n ?? 1);
    const id = 'cmpl-loopback';
    const perChoice = Array.from({ length: n }, (_, i) => pieces(COMPLETIONS[i % COMPLETIONS.length]!));
    const lines: string[] = [];
    const longest = Math.max(...perChoice.map((p) => p.length));
    for (let j = 0; j < longest; j++) {
      for (let i = 0; i < n; i++) {
        const t = perChoice[i]![j];
        if (t === undefined) continue;
        const choice = { index: i, text: t, logprobs: req.body.logprobs ? { tokens: [t], token_logprobs: [-0.2 * (i + 1)], top_logprobs: null, text_offset: [0] } : null, finish_reason: null };
        lines.push(`data: ${JSON.stringify({ id, object: 'text_completion', created: 0, model, choices: [choice] })}\n\n`);
      }
    }
    for (let i = 0; i < n; i++) lines.push(`data: ${JSON.stringify({ id, object: 'text_completion', created: 0, model, choices: [{ index: i, text: '', logprobs: null, finish_reason: 'stop' }] })}\n\n`);
    lines.push('data: [DONE]\n\n');
    await stream(res, 'text/event-stream', lines, b, 1);
  });
}
