/**
 * One HTTP request to a remote server, with the API key, a client deadline and an AbortSignal.
 *
 * node:http / node:https rather than the global fetch (undici): aborting destroys this request's own socket at once,
 * so the server sees the connection close within milliseconds of a keystroke (measured in test/remote/), whereas
 * fetch's pooled keep-alive sockets make when the server notices depend on the pool; and the response body is a
 * plain Node stream the NDJSON/SSE parsers (streams.ts) read line by line. No dependency is added.
 */
import { safeMessage } from '../protocol/redact';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { RemoteError, serverMessage} from './errors';

export interface HttpOptions {
  /** Sent as `Authorization: Bearer …` (never logged, masked in every message). */
  apiKey?: string;
  signal?: AbortSignal;
  /** Client deadline for the whole exchange (headers and body), ms. */
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  body: Readable;
  /** The body read to its end as text (rejects with RemoteError 'truncated' when the connection dies first). */
  text(): Promise<string>;
}

/** A request whose deadline or signal fires: the socket is destroyed and `done` tells why. */
export class Exchange {
  private readonly ac = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  reason: 'cancelled' | 'timeout' | undefined;
  private readonly onAbort = () => this.abort('cancelled');

  constructor(private readonly opts: HttpOptions) {
    if (opts.signal?.aborted) this.abort('cancelled');
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.timer = setTimeout(() => this.abort('timeout'), opts.timeoutMs);
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  abort(reason: 'cancelled' | 'timeout'): void {
    if (this.reason) return;
    this.reason = reason;
    this.ac.abort();
  }

  /** The error for an aborted exchange. */
  error(url: string): RemoteError {
    return this.reason === 'timeout'
      ? new RemoteError('timeout', `${url} did not answer within ${this.opts.timeoutMs} ms`, 'superdraft.latencyBudgetMs')
      : new RemoteError('cancelled', 'request cancelled');
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** `base` + `path` without a doubled slash (and without a doubled `/v1` when the base already ends with it). */
export function joinUrl(base: string, path: string): string {
  let b = base.replace(/\/+$/, '');
  if (path.startsWith('/v1/') && /\/v1$/.test(b)) b = b.slice(0, -3);
  return b + path;
}

function connectError(err: NodeJS.ErrnoException, url: string): RemoteError {
  const code = err.code ?? '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE'].includes(code)) {
    return new RemoteError('unreachable', `cannot reach ${url} (${code}): is the server running? Check superdraft.endpoint`, 'superdraft.endpoint');
  }
  return new RemoteError('unreachable', `request to ${url} failed: ${err.message}`, 'superdraft.endpoint');
}

/**
 * Sends `body` (JSON) or a GET; resolves once the response headers arrive, with the body still streaming. A 4xx/5xx
 * is returned, not thrown (each backend recognises its server's own errors first; see httpError for the rest).
 */
export function request(method: 'GET' | 'POST', url: string, body: unknown, ex: Exchange, apiKey?: string): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new RemoteError('bad_request', `superdraft.endpoint ${JSON.stringify(url)} is not a URL`, 'superdraft.endpoint'));
      return;
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json, text/event-stream, application/x-ndjson' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    // agent: false: a socket of its own, so an abort closes exactly this request's connection.
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(u, { method, headers, agent: false, signal: ex.signal }, (res) => {
      const text = (): Promise<string> =>
        new Promise((ok, fail) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
          res.on('error', () => fail(ex.reason ? ex.error(url) : truncated(url)));
          res.on('aborted', () => fail(ex.reason ? ex.error(url) : truncated(url)));
        });
      resolve({ status: res.statusCode ?? 0, body: res, text });
    });
    req.on('error', (err: NodeJS.ErrnoException) => reject(ex.reason ? ex.error(url) : redactError(connectError(err, url), apiKey)));
    req.end(payload);
  });
}

function redactError(e: RemoteError, key: string | undefined): RemoteError {
  return new RemoteError(e.code, safeMessage(e.message, [key]), e.setting, e.status);
}

export function truncated(url: string): RemoteError {
  return new RemoteError('truncated', `${url} closed the connection before the response was complete (server stopped or crashed?)`, 'superdraft.endpoint');
}

/** The generic error for an HTTP status a backend did not recognise as its own. */
export function httpError(status: number, body: string, url: string, apiKey: string | undefined, model: string): RemoteError {
  const msg = safeMessage(serverMessage(body), [apiKey]);
  if (status === 401 || status === 403) {
    return new RemoteError('auth', `${url} refused the API key (HTTP ${status}${msg ? `: ${msg}` : ''}); set it with "Superdraft: Set API Key" (CLI: SUPERDRAFT_API_KEY)`, 'superdraft.endpoint', status);
  }
  if (status === 404 && /model/i.test(msg)) {
    return new RemoteError('unknown_model', `the server has no model ${JSON.stringify(model)} (${msg}); check superdraft.remoteModel`, 'superdraft.remoteModel', status);
  }
  if (status === 404) return new RemoteError('bad_request', `${url} does not exist (HTTP 404): is superdraft.endpoint the right server for superdraft.backend?`, 'superdraft.endpoint', status);
  if (status >= 500) return new RemoteError('server', `${url} failed (HTTP ${status}${msg ? `: ${msg}` : ''})`, 'superdraft.endpoint', status);
  return new RemoteError('bad_request', `${url} rejected the request (HTTP ${status}${msg ? `: ${msg}` : ''})`, undefined, status);
}

/** JSON.parse with the error a user can act on. */
export function parseJson<T>(text: string, url: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new RemoteError('malformed', `${url} answered with a body that is not JSON: ${JSON.stringify(text.slice(0, 120))}`, 'superdraft.endpoint');
  }
}
