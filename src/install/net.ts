/**
 * The one HTTP layer of model installs (node:http / node:https, no global fetch): every request to a Hub or a
 * mirror goes through `request`, which
 * - sends the token only to the endpoint's own origin: `Authorization` is added per hop, so a redirect (or a Link
 *   page, or a storage URL) on another origin never sees it, whatever that origin answers (X-Cache or not);
 * - follows redirects itself (at most limits.maxRedirects, http and https only, a URL seen twice is a loop);
 * - bounds the time of every hop: connect, response headers, silence between body chunks, and a minimum speed
 *   over a sliding window that also covers the time before the headers (src/install/limits.ts has the values);
 * - never puts a secret in a message: URLs are redacted (src/protocol/redact.ts), the token is not in any message.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { redactUrl } from '../protocol/redact';
import { formatBytes } from './errors';
import type { NetLimits } from './limits';

export type NetErrorKind = 'timeout' | 'slow' | 'redirect' | 'network' | 'aborted';

/** A transport failure (never an HTTP status): its message names the URL (redacted) and the limit that ended it. */
export class NetError extends Error {
  constructor(
    readonly kind: NetErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}

export interface NetRequest {
  url: string;
  /** Origin of the Hub or mirror (the endpoint): the only origin that gets the token. */
  trustedOrigin: string;
  token?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  limits: NetLimits;
}

export interface NetResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  url: string;
  /** The body, chunk by chunk; it throws a NetError when a limit ends it. */
  body: AsyncIterable<Buffer>;
  /** Drops the body (a response that is not used). */
  cancel(): void;
  /** The whole body as text (small responses: listings, errors); at most `max` bytes. */
  text(max?: number): Promise<string>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The Authorization header for a URL: only on the trusted origin. */
export function authFor(url: string, trustedOrigin: string, token: string | undefined): Record<string, string> {
  return token && new URL(url).origin === trustedOrigin ? { Authorization: `Bearer ${token}` } : {};
}

function secs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * One hop: no redirect following. Resolves at the response headers; the timers keep running over the body.
 * One step: the connect, headers, idle and speed timers and the abort share one `fail` and one set of timers, from
 * the request to the end of its body, so they live in one closure.
 */
function hop(url: URL, req: NetRequest, started: number, progress: { bytes: number; samples: [number, number][] }): Promise<{ res: IncomingMessage; done: () => void; chunk: (n: number) => void }> {
  const { limits } = req;
  const shown = redactUrl(url.toString());
  // One step: the request's whole lifecycle (see above).
  return new Promise((resolve, reject) => {
    let finished = false;
    let res: IncomingMessage | undefined;
    const timers = new Set<NodeJS.Timeout>();
    const clearAll = (): void => {
      for (const t of timers) clearTimeout(t), clearInterval(t);
      timers.clear();
      req.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (e: NetError): void => {
      if (finished) return;
      finished = true;
      clearAll();
      if (res) res.destroy(e);
      else {
        cr.destroy(e);
        reject(e);
      }
    };
    const after = (ms: number, f: () => void): NodeJS.Timeout => {
      const t = setTimeout(() => {
        timers.delete(t);
        f();
      }, ms);
      timers.add(t);
      return t;
    };
    const onAbort = (): void => fail(new NetError('aborted', `request to ${shown} cancelled`));
    if (req.signal?.aborted) return reject(new NetError('aborted', `request to ${shown} cancelled`));
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const headers = { 'User-Agent': 'superdraft', ...req.headers, ...authFor(url.toString(), req.trustedOrigin, req.token) };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let cr: ClientRequest;
    try {
      cr = send(url, { method: 'GET', headers, agent: false });
    } catch (e) {
      clearAll();
      // Node's header validation quotes the header's name only; still, nothing of the value goes out.
      return reject(new NetError('network', `cannot send a request to ${shown}: ${(e as NodeJS.ErrnoException).code ?? 'invalid request'}`));
    }
    // Minimum speed over the window, from the start of the request (connect and headers count too).
    const tick = Math.max(10, Math.min(1000, Math.floor(limits.windowMs / 4)));
    const speed = setInterval(() => {
      const now = Date.now();
      progress.samples.push([now, progress.bytes]);
      if (now - started < limits.windowMs) return;
      while (progress.samples.length > 1 && now - progress.samples[1][0] >= limits.windowMs) progress.samples.shift();
      const [t0, b0] = progress.samples[0];
      const moved = progress.bytes - b0;
      if (moved < (limits.minSpeedBps * (now - t0)) / 1000) {
        fail(new NetError('slow', `${shown}: ${formatBytes(moved)} in the last ${secs(now - t0)}, slower than the minimum ${formatBytes(limits.minSpeedBps)}/s`));
      }
    }, tick);
    timers.add(speed);
    const connectTimer = after(limits.connectMs, () => fail(new NetError('timeout', `${shown}: no connection within ${secs(limits.connectMs)}`)));
    let headersTimer: NodeJS.Timeout | undefined;
    const connected = (): void => {
      clearTimeout(connectTimer);
      timers.delete(connectTimer);
      headersTimer = after(limits.headersMs, () => fail(new NetError('timeout', `${shown}: no response within ${secs(limits.headersMs)} of connecting`)));
    };
    cr.on('socket', (s) => {
      if (s.connecting) s.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      else connected();
    });
    cr.on('error', (e) => {
      if (finished) return;
      finished = true;
      clearAll();
      const code = (e as NodeJS.ErrnoException).code;
      reject(e instanceof NetError ? e : new NetError('network', `${shown}: ${code ?? e.message}`));
    });
    cr.on('response', (r) => {
      res = r;
      if (headersTimer) clearTimeout(headersTimer), timers.delete(headersTimer);
      let idle = after(limits.idleMs, () => fail(new NetError('timeout', `${shown}: no data for ${secs(limits.idleMs)}`)));
      // Called by the body's reader for each chunk (a 'data' listener here would start the stream before it reads).
      const chunk = (n: number): void => {
        progress.bytes += n;
        if (finished) return;
        clearTimeout(idle);
        timers.delete(idle);
        idle = after(limits.idleMs, () => fail(new NetError('timeout', `${shown}: no data for ${secs(limits.idleMs)}`)));
      };
      const done = (): void => {
        finished = true;
        clearAll();
      };
      r.on('end', done);
      r.on('close', done);
      r.on('error', (e) => {
        if (!finished) fail(e instanceof NetError ? e : new NetError('network', `${shown}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });
      resolve({ res: r, done, chunk });
    });
    cr.end();
  });
}

async function* bodyOf(res: IncomingMessage, shown: string, chunk: (n: number) => void): AsyncIterable<Buffer> {
  try {
    for await (const c of res) {
      chunk((c as Buffer).length);
      yield c as Buffer;
    }
  } catch (e) {
    if (e instanceof NetError) throw e;
    throw new NetError('network', `${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!res.complete) throw new NetError('network', `${shown}: the connection closed before the end of the response`);
}

/** GET `req.url`, following redirects (see the file's comment). Non-2xx statuses are returned, not thrown. */
export async function request(req: NetRequest): Promise<NetResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new NetError('network', `not a URL: ${redactUrl(req.url)}`);
  }
  const seen = new Set<string>();
  const started = Date.now();
  const progress = { bytes: 0, samples: [[started, 0]] as [number, number][] };
  for (let hops = 0; ; hops++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new NetError('redirect', `refused a redirect to a ${url.protocol.replace(/:$/, '')}: URL (${redactUrl(url.toString())}); only http and https are followed`);
    if (url.username || url.password) throw new NetError('redirect', `refused ${redactUrl(url.toString())}: credentials in a URL are never sent (use HF_TOKEN)`);
    seen.add(url.toString());
    const { res, done, chunk } = await hop(url, req, started, progress);
    const shown = redactUrl(url.toString());
    if (REDIRECTS.has(res.statusCode ?? 0) && res.headers.location) {
      res.resume();
      done();
      let next: URL;
      try {
        next = new URL(res.headers.location, url);
      } catch {
        throw new NetError('redirect', `${shown} redirects to an invalid URL`);
      }
      if (seen.has(next.toString())) throw new NetError('redirect', `${shown} redirects in a loop (to ${redactUrl(next.toString())} again)`);
      if (hops + 1 > req.limits.maxRedirects) throw new NetError('redirect', `${redactUrl(req.url)}: more than ${req.limits.maxRedirects} redirects`);
      url = next;
      continue;
    }
    const body = bodyOf(res, shown, chunk);
    return {
      status: res.statusCode ?? 0,
      headers: res.headers,
      url: url.toString(),
      body,
      cancel: () => {
        done();
        res.destroy();
      },
      text: async (max = 64 * 1024 * 1024) => {
        const parts: Buffer[] = [];
        let n = 0;
        for await (const c of body) {
          n += c.length;
          if (n > max) {
            res.destroy();
            throw new NetError('network', `${shown}: the response is larger than ${formatBytes(max)}`);
          }
          parts.push(c);
        }
        return Buffer.concat(parts).toString('utf8');
      },
    };
  }
}
