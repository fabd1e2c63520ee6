/**
 * HTTP plumbing over node:http: reading a JSON body within a byte limit and a time limit, answering JSON, errors in
 * OpenAI's shape, and server-sent events. A body whose Content-Length is over the limit is refused before a byte of it
 * is read, and the connection is closed after the answer (never drained).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api';

/** Reads the whole body (at most `limit` bytes, within `timeoutMs`) and parses it as a JSON object. */
export function readJson(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new ApiError(413, `the request body is too large (${declared} bytes; this server accepts ${limit})`, 'body_too_large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (e: ApiError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.removeAllListeners('data');
      req.pause();
      reject(e);
    };
    const timer = setTimeout(() => fail(new ApiError(408, `the request body did not arrive within ${timeoutMs} ms`, 'body_timeout')), timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) return fail(new ApiError(413, `the request body is too large (over ${limit} bytes)`, 'body_too_large'));
      chunks.push(c);
    });
    req.on('error', () => fail(new ApiError(400, 'the request body could not be read', 'bad_body')));
    req.on('end', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      let v: unknown;
      try {
        v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(new ApiError(400, 'the request body is not valid JSON', 'bad_json'));
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return reject(new ApiError(400, 'the request body must be a JSON object', 'bad_json'));
      resolve(v as Record<string, unknown>);
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function errorBody(e: ApiError): { error: { message: string; type: string; code: string; param: string | null } } {
  return { error: { message: e.message, type: e.status === 401 ? 'authentication_error' : e.status >= 500 ? 'server_error' : 'invalid_request_error', code: e.code, param: e.param ?? null } };
}

/** Answers an ApiError; a refused body (413, 408, 400 before the end) also closes the connection instead of draining it. */
export function sendError(res: ServerResponse, e: ApiError, close = false): void {
  const headers: Record<string, string> = close ? { connection: 'close' } : {};
  if (e.status === 401) headers['www-authenticate'] = 'Bearer';
  if (e.status === 429) headers['retry-after'] = '1';
  if (res.headersSent) {
    if (!res.writableEnded) sseSend(res, errorBody(e));
    res.end();
    return;
  }
  sendJson(res, e.status, errorBody(e), headers);
  if (close) res.once('finish', () => res.req.socket?.destroySoon?.());
}

export function sseStart(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  res.flushHeaders();
}

export function sseSend(res: ServerResponse, data: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}
