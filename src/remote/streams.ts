/**
 * Streaming response bodies, parsed as they arrive: NDJSON (Ollama's /api/generate: one JSON object per line) and
 * server-sent events (OpenAI-compatible `stream: true`: `data: {json}` events ending with `data: [DONE]`).
 * A body that ends in the middle of a line or before its end marker is 'truncated'; a line that is not JSON is
 * 'malformed'.
 */
import type { Readable } from 'node:stream';
import { RemoteError } from './errors';
import { truncated, type Exchange } from './http';

/** Lines of `body` as they arrive (without the newline), the last one included if the body does not end with one. */
async function* lines(body: Readable, ex: Exchange, url: string): AsyncGenerator<string> {
  let rest = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of body) {
      rest += decoder.decode(chunk as Buffer, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        yield rest.slice(0, nl).replace(/\r$/, '');
        rest = rest.slice(nl + 1);
      }
    }
  } catch {
    throw ex.reason ? ex.error(url) : truncated(url);
  }
  // for-await ends quietly on an aborted response in some Node versions: tell a cut from an end.
  if (ex.reason) throw ex.error(url);
  if ((body as { aborted?: boolean }).aborted || (body as { complete?: boolean }).complete === false) throw truncated(url);
  rest += decoder.decode();
  if (rest.length > 0) yield rest;
}

function parseLine<T>(line: string, url: string): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new RemoteError('malformed', `${url} sent a stream line that is not JSON: ${JSON.stringify(line.slice(0, 120))}`, 'superdraft.endpoint');
  }
}

/** Ollama's NDJSON stream (docs/api.md, "Generate a completion", streaming response): objects until `done: true`. */
export async function* ndjson<T extends { done?: boolean }>(body: Readable, ex: Exchange, url: string): AsyncGenerator<T> {
  for await (const line of lines(body, ex, url)) {
    if (line.trim() === '') continue;
    const obj = parseLine<T>(line, url);
    yield obj;
    if (obj.done === true) return;
  }
  throw truncated(url);
}

/** The `data:` payloads of an SSE stream, parsed as JSON, until `data: [DONE]`. */
export async function* sse<T>(body: Readable, ex: Exchange, url: string): AsyncGenerator<T> {
  let data: string[] = [];
  for await (const line of lines(body, ex, url)) {
    if (line === '') {
      if (data.length === 0) continue;
      const payload = data.join('\n');
      data = [];
      if (payload.trim() === '[DONE]') return;
      yield parseLine<T>(payload, url);
      continue;
    }
    if (line.startsWith(':')) continue; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
  }
  if (data.length > 0 && data.join('\n').trim() === '[DONE]') return;
  throw truncated(url);
}
