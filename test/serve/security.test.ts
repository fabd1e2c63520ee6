/**
 * `superdraft serve`'s safety on loopback with the real engine (embedded model): tokens (401 without or with a wrong
 * one on every route but /health; the name in the metrics), a 1 GB Content-Length refused before any of the body is
 * read, slow-loris clients cut off by the header and body timeouts, prompt size and per-token concurrency limits, the
 * tokens file's format, and the refusal to bind a non-loopback address without tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, defaultModelDir } from '../../src/engine/engine';
import { BindRefused, isLoopback, startServer, SERVE_DEFAULTS, type RunningServer } from '../../src/serve/server';
import { TokenFileError, TokenStore } from '../../src/serve/tokens';
import { SUPERDRAFT_STRATEGY_FIELD } from '../../src/serve/names';
import { call, rawClient, sample, until } from './helpers';

const ALICE = 'alice-0123456789abcdef';
const BOB = 'bob-fedcba9876543210xyz';
const TOKENS = `# team tokens\nalice ${ALICE}\n\n${BOB}   # a bare token\n`;

let engine: Engine;
let server: RunningServer;
let url: string;

beforeAll(async () => {
  engine = await Engine.load({ modelDir: defaultModelDir() });
  server = await startServer(engine, {
    ...SERVE_DEFAULTS,
    port: 0,
    tokens: TokenStore.parse(TOKENS),
    maxConcurrent: 2,
    maxBodyBytes: 64 * 1024,
    maxPromptChars: 20_000,
    headersTimeoutMs: 400,
    bodyTimeoutMs: 400,
    strategy: 'superposed',
    modelId: 'superdraft-embedded',
  });
  url = server.url;
});

afterAll(async () => {
  await server?.close();
  await engine?.dispose();
});

const metrics = async () => (await call(url, 'GET', '/metrics', undefined, ALICE)).text;

describe('serve: tokens', () => {
  it('the tokens file: NAME TOKEN or a bare TOKEN, # comments; short tokens, bad names and duplicates refused', () => {
    const store = TokenStore.parse(TOKENS);
    expect(store.size).toBe(2);
    expect(store.check(ALICE)).toBe('alice');
    expect(store.check(BOB)).toBe('token2');
    expect(store.check(ALICE + 'x')).toBeUndefined();
    expect(store.check('')).toBeUndefined();
    expect(() => TokenStore.parse('short')).toThrow(TokenFileError);
    expect(() => TokenStore.parse('# nothing\n')).toThrow(/no token/);
    expect(() => TokenStore.parse(`a b ${ALICE}`)).toThrow(/:1:/);
    expect(() => TokenStore.parse(`x ${ALICE}\nx ${BOB}`)).toThrow(/used twice/);
    expect(TokenStore.bearer(`Bearer ${ALICE}`)).toBe(ALICE);
    expect(TokenStore.bearer(`Basic ${ALICE}`)).toBeUndefined();
  });

  it('only digests are kept in memory', () => {
    const store = TokenStore.parse(TOKENS) as unknown as { entries: { name: string; digest: Buffer }[] };
    const dump = JSON.stringify(store.entries.map((e) => ({ ...e, digest: e.digest.toString('latin1') })));
    expect(dump).not.toContain(ALICE);
    expect(dump).not.toContain(BOB);
    expect(store.entries.every((e) => e.digest.length === 32)).toBe(true);
  });

  it('401 on every route but /health without a token or with a wrong one; 200 with a valid one', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/models'],
      ['GET', '/metrics'],
      ['POST', '/v1/completions', { prompt: 'x = ', n: 2, max_tokens: 4 }],
      ['POST', '/infill', { input_prefix: 'x = ', n_predict: 4 }],
      ['GET', '/nowhere'],
    ];
    for (const [method, path, body] of routes) {
      for (const token of [undefined, 'wrong-token-0123456789', ALICE.slice(0, -1)]) {
        const r = await call(url, method, path, body, token);
        expect(r.status, `${method} ${path} with ${token}`).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
        expect(r.json.error.type).toBe('authentication_error');
      }
    }
    expect((await call(url, 'GET', '/health')).status).toBe(200);
    expect((await call(url, 'GET', '/v1/models', undefined, ALICE)).status).toBe(200);
    const ok = await call(url, 'POST', '/v1/completions', { prompt: 'x = ', n: 2, max_tokens: 4 }, BOB);
    expect(ok.status).toBe(200);
    const m = await metrics();
    expect(sample(m, 'superdraft_http_requests_total', { route: 'POST /v1/completions', status: '200', token: 'token2' })).toBe(1);
    expect(sample(m, 'superdraft_rejected_total', { reason: 'auth' })).toBe(15);
    expect(m).not.toContain(ALICE);
    expect(m).not.toContain(BOB);
  });
});

describe('serve: limits', () => {
  it('a 1 GB body is refused (413) from its Content-Length, before any of it is sent, and the connection closed', async () => {
    const head = `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ALICE}\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n`;
    const x = await rawClient(server.port, head, { giveUpMs: 5000 });
    expect(x.received).toMatch(/^HTTP\/1\.1 413 /);
    expect(x.received).toContain('body_too_large');
    expect(x.closedByServer).toBe(true);
    expect(x.written).toBe(Buffer.byteLength(head));
    expect(sample(await metrics(), 'superdraft_rejected_total', { reason: 'body_too_large' })).toBeGreaterThanOrEqual(1);
  });

  it('a chunked body that grows past the limit is refused too', async () => {
    const r = await fetch(url + '/v1/completions', { method: 'POST', headers: { authorization: `Bearer ${ALICE}` }, body: JSON.stringify({ prompt: 'x'.repeat(100_000) }) });
    expect(r.status).toBe(413);
  });

  it('a prompt over the prompt limit is refused (413, prompt_too_large)', async () => {
    const r = await call(url, 'POST', '/v1/completions', { prompt: 'x'.repeat(15_000), suffix: 'y'.repeat(6_000) }, ALICE);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('prompt_too_large');
    const i = await call(url, 'POST', '/infill', { input_prefix: 'x', input_extra: [{ filename: 'a', text: 'z'.repeat(25_000) }] }, ALICE);
    expect(i.status).toBe(413);
  });

  it('slow loris: headers dripped a byte at a time are cut off by the headers timeout', async () => {
    const x = await rawClient(server.port, 'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n', { drip: 'X-Slow: aaaaaaaa\r\n', everyMs: 50, giveUpMs: 8000 });
    expect(x.closedByServer).toBe(true);
    expect(x.received).toMatch(/^HTTP\/1\.1 408 /);
    // a connection that sends nothing at all is closed too
    const idle = await rawClient(server.port, '', { giveUpMs: 8000 });
    expect(idle.closedByServer).toBe(true);
    expect(sample(await metrics(), 'superdraft_rejected_total', { reason: 'timeout' })).toBeGreaterThanOrEqual(1);
  });

  it('slow loris: a body that never completes is cut off by the body timeout (408)', async () => {
    const head = `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ALICE}\r\nContent-Length: 1000\r\n\r\n{"prompt": "`;
    const x = await rawClient(server.port, head, { drip: 'a', everyMs: 50, giveUpMs: 8000 });
    expect(x.closedByServer).toBe(true);
    expect(x.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('per-token concurrency: past --max-concurrent a token gets 429; the fair queue serves another token before its second', async () => {
    const long = { prompt: 'const s = "', n: 16, max_tokens: 1024, temperature: 1.5, [SUPERDRAFT_STRATEGY_FIELD]: 'sampling' };
    const order: string[] = [];
    const alice = Array.from({ length: 4 }, () => call(url, 'POST', '/v1/completions', long, ALICE).then((r) => (order.push(`alice ${r.status}`), r)));
    await until(async () => sample(await metrics(), 'superdraft_queue_depth') === 1);
    // a stream past the limit is refused before its 200: a 429 in JSON, not an event stream
    const refused = await call(url, 'POST', '/v1/completions', { prompt: 'x = ', n: 2, max_tokens: 4, stream: true }, ALICE);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.headers.get('retry-after')).toBe('1');
    const bob = await call(url, 'POST', '/v1/completions', { prompt: 'x = ', n: 2, max_tokens: 4 }, BOB);
    order.push('bob');
    expect(bob.status).toBe(200);
    const statuses = (await Promise.all(alice)).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429]);
    // alice's first ran, her second waited; bob, who came after it, went before it
    expect(order.filter((o) => o !== 'alice 429')).toEqual(['alice 200', 'bob', 'alice 200']);
    expect(sample(await metrics(), 'superdraft_rejected_total', { reason: 'concurrency', token: 'alice' })).toBe(3);
  });
});

describe('serve: binding', () => {
  it('a non-loopback address without tokens is refused; loopback names are recognised', async () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1']) expect(isLoopback(h)).toBe(false);
    await expect(startServer(engine, { ...SERVE_DEFAULTS, host: '0.0.0.0', port: 0, strategy: 'superposed', modelId: 'm' })).rejects.toThrow(BindRefused);
  });
});
