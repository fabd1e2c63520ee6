/**
 * `superdraft serve`: an HTTP server over one Engine. OpenAI-compatible `POST /v1/completions` and `GET /v1/models`,
 * llama.cpp-compatible `POST /infill`, `GET /health` and `GET /metrics` (Prometheus text).
 *
 * HTTP library: node:http, deliberately. The server has five routes and needs exactly what Node's own server does
 * well and already maintains: headersTimeout/requestTimeout against slow clients (checked every
 * connectionsCheckingInterval), Content-Length before the body is read, the response's `close` event for disconnects
 * (which cancels the engine's work) and raw writes for server-sent events. A framework (fastify, express) would add a
 * dependency tree to the bundle and to the .vsix for routing five paths, and its limits sit on top of these same
 * node:http options anyway.
 *
 * Safe by default: binds loopback; another address needs a tokens file (tokens.ts). Every route but `GET /health`
 * answers 401 without a valid `Authorization: Bearer` token. Body and prompt sizes, per-token concurrency (queue.ts),
 * header and body arrival times are bounded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CompletionRequest, CompletionResponse, StrategyName } from '../protocol';
import { EngineError } from '../protocol/errors';
import { validateRequest } from '../protocol/validate';
import { ApiError, completionsBody, infillBody, modelsBody, parseCompletions, parseInfill, passesOf, type ApiOptions, type Parsed } from './api';
import { readJson, sendError, sendJson, sendText } from './http';
import { Metrics } from './metrics';
import { CLIENT_HEADER } from './names';
import { FairQueue, TooBusy } from './queue';
import { streamCompletion } from './stream';
import { TokenStore } from './tokens';

/** What the server needs of the engine (the Engine class has it). */
export interface ServeEngine {
  complete(req: CompletionRequest, signal?: AbortSignal): Promise<CompletionResponse>;
  readonly info: { model: string; device: string; superposition: boolean };
  readonly tokenizer: { encode(text: string): number[]; decode(ids: number[]): string };
}

export interface ServeOptions {
  host: string;
  port: number;
  /** Required for a non-loopback host. */
  tokens?: TokenStore;
  /** Requests queued or running per token (without tokens: for all clients together). */
  maxConcurrent: number;
  maxBodyBytes: number;
  maxPromptChars: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  strategy: StrategyName;
  modelId: string;
  log?: (line: string) => void;
}

export const SERVE_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  /** llama.vscode's and llama.vim's default endpoint port: those clients find the server without a setting. */
  port: 8012,
  maxConcurrent: 32,
  maxBodyBytes: 4 * 1024 * 1024,
  maxPromptChars: 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
});

/** The identity of requests on a server without tokens (loopback only). */
export const LOCAL_IDENTITY = 'local';

export class BindRefused extends Error {}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::ffff:127.0.0.1';
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly metrics: Metrics;
  readonly queue: FairQueue;
  close(): Promise<void>;
}

const ROUTES = new Set(['GET /health', 'GET /metrics', 'GET /v1/models', 'POST /v1/completions', 'POST /completions', 'POST /infill']);

export async function startServer(engine: ServeEngine, opts: ServeOptions): Promise<RunningServer> {
  if (!isLoopback(opts.host) && !opts.tokens) {
    throw new BindRefused(`refusing to listen on ${opts.host} without --tokens FILE: anyone who reaches that address could use the model; bind 127.0.0.1 or give a tokens file`);
  }
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  // eslint-disable-next-line prefer-const
  let queue: FairQueue;
  const metrics = new Metrics(() => ({
    superdraft_queue_depth: { help: 'Completion requests waiting in the fair queue.', value: queue.depth },
    superdraft_requests_running: { help: 'Completion requests the engine is decoding (0 or 1).', value: queue.busy ? 1 : 0 },
    superdraft_uptime_seconds: { help: 'Seconds since the server started.', value: Math.round((Date.now() - started) / 1000) },
  }));
  queue = new FairQueue(engine, opts.maxConcurrent, (reason, token, stage) => metrics.cancellations.inc({ reason, token, stage }));
  const api: ApiOptions = { strategy: opts.strategy, maxPromptChars: opts.maxPromptChars, modelId: opts.modelId };
  const ctx: Ctx = { engine, opts, api, metrics, queue, log, created: Math.floor(started / 1000) };
  const server = createServer(
    {
      headersTimeout: opts.headersTimeoutMs,
      requestTimeout: opts.headersTimeoutMs + opts.bodyTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(opts.headersTimeoutMs / 4))),
      keepAliveTimeout: 5000,
    },
    (req, res) => handle(ctx, req, res),
  );
  // Malformed requests and clients too slow with their headers (headersTimeout) or request (requestTimeout) end here.
  server.on('clientError', (err, socket) => {
    const timeout = (err as NodeJS.ErrnoException).code === 'ERR_HTTP_REQUEST_TIMEOUT';
    metrics.rejected.inc({ reason: timeout ? 'timeout' : 'bad_request' });
    if (socket.writable) socket.end(timeout ? 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  return { url: `http://${host}:${port}`, port, metrics, queue, close: () => closeServer(server, queue) };
}

async function closeServer(server: Server, queue: FairQueue): Promise<void> {
  queue.cancelAll();
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 1000).unref();
  await closed;
}

interface Ctx {
  engine: ServeEngine;
  opts: ServeOptions;
  api: ApiOptions;
  metrics: Metrics;
  queue: FairQueue;
  log: (line: string) => void;
  created: number;
}

/** The identity of a request: the token's name, LOCAL_IDENTITY without tokens; undefined = not authorised. */
function identify(ctx: Ctx, req: IncomingMessage): string | undefined {
  if (!ctx.opts.tokens) return LOCAL_IDENTITY;
  const token = TokenStore.bearer(req.headers.authorization);
  return token === undefined ? undefined : ctx.opts.tokens.check(token);
}

function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): void {
  const t0 = performance.now();
  const pathname = (req.url ?? '/').split('?')[0];
  const route = `${req.method} ${pathname}`;
  const label = ROUTES.has(route) ? route : 'other';
  let who = '-';
  res.on('finish', () => {
    ctx.metrics.requests.inc({ route: label, status: String(res.statusCode), token: who });
    ctx.log(`${who} ${route.slice(0, 80)} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms`);
  });
  if (route === 'GET /health') return sendJson(res, 200, { status: 'ok', model: ctx.opts.modelId, device: ctx.engine.info.device });
  const id = identify(ctx, req);
  if (id === undefined) {
    ctx.metrics.rejected.inc({ reason: 'auth' });
    // the body is never read for an unauthorised request: answer and close
    return sendError(res, new ApiError(401, 'a valid "Authorization: Bearer TOKEN" header is required', 'invalid_api_key'), req.method !== 'GET');
  }
  who = id;
  switch (route) {
    case 'GET /metrics':
      return sendText(res, 200, ctx.metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
    case 'GET /v1/models':
      return sendJson(res, 200, modelsBody(ctx.api, ctx.created, { device: ctx.engine.info.device, superposition: ctx.engine.info.superposition, model: ctx.engine.info.model }));
    case 'POST /v1/completions':
    case 'POST /completions':
      return void completion(ctx, id, 'openai', req, res);
    case 'POST /infill':
      return void completion(ctx, id, 'infill', req, res);
    default:
      return sendError(res, new ApiError(ROUTES.has(`GET ${pathname}`) || ROUTES.has(`POST ${pathname}`) ? 405 : 404, `no route ${route.slice(0, 200)}`, 'not_found'), req.method !== 'GET');
  }
}

/** A request's error as an ApiError (and the metrics' reason when it was refused before any work). */
function apiErrorOf(e: unknown): { err: ApiError; reason?: string } {
  if (e instanceof ApiError) return { err: e, reason: e.status === 413 ? e.code : e.status === 408 ? 'timeout' : 'bad_request' };
  if (e instanceof TooBusy) return { err: new ApiError(429, e.message, 'too_many_requests'), reason: 'concurrency' };
  if (e instanceof EngineError) {
    if (e.code === 'cancelled') return { err: new ApiError(e.message.includes('superseded') ? 409 : 499, e.message, 'cancelled') };
    if (e.code === 'invalid_request' || e.code === 'unsupported') return { err: new ApiError(400, e.message, e.code), reason: 'bad_request' };
  }
  return { err: new ApiError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'internal_error') };
}

async function completion(ctx: Ctx, token: string, kind: 'openai' | 'infill', req: IncomingMessage, res: ServerResponse): Promise<void> {
  const t0 = performance.now();
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  let bodyRead = false;
  let parsed: Parsed | undefined;
  try {
    const body = await readJson(req, ctx.opts.maxBodyBytes, ctx.opts.bodyTimeoutMs);
    bodyRead = true;
    parsed = kind === 'openai' ? parseCompletions(body, ctx.api) : parseInfill(body, ctx.api);
    const engineReq = validateRequest(parsed.req);
    const client = parsed.user ?? headerValue(req.headers[CLIENT_HEADER]);
    if (parsed.stream) return await streamCompletion(ctx.queue.submit(token, engineReq, ac.signal, client), res, parsed, ctx.opts.modelId, (r, w) => done(r, w));
    const { res: out, waitMs } = await ctx.queue.submit(token, engineReq, ac.signal, client);
    done(out, waitMs);
    sendJson(res, 200, kind === 'openai' ? completionsBody(parsed, out, waitMs, ctx.opts.modelId, tokenPieces(ctx)) : infillBody(parsed, out, waitMs, ctx.opts.modelId));
  } catch (e) {
    const { err, reason } = apiErrorOf(e);
    if (reason) ctx.metrics.rejected.inc({ reason, token });
    if (!res.destroyed) sendError(res, err, !bodyRead);
  }

  function done(out: CompletionResponse, waitMs: number): void {
    const m = ctx.metrics;
    const strategy = out.strategy;
    m.latency.observe({ route: kind, strategy }, (performance.now() - t0) / 1000);
    m.queueWait.observe({}, waitMs / 1000);
    m.draftsReturned(strategy, out.drafts.length);
    m.passes.inc({ strategy }, passesOf(strategy, (parsed as Parsed).req.k));
    m.forwards.inc({ strategy }, out.timing.forwards);
    (out.timing.reusedTokens > 0 ? m.cacheHits : m.cacheMisses).inc({ token });
    m.promptReused.inc({}, out.timing.reusedTokens);
    m.promptComputed.inc({}, out.timing.prefillTokens);
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s ? s.slice(0, 128) : undefined;
}

/** The draft's text as the model's token pieces (for `logprobs`). */
function tokenPieces(ctx: Ctx): (s: string) => string[] {
  return (s) => ctx.engine.tokenizer.encode(s).map((t) => ctx.engine.tokenizer.decode([t]));
}
