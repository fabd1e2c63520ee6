/**
 * The `openai` remote backend end to end against `superdraft serve` on loopback, both real: the client recognises the
 * server from `GET /v1/models` and asks for the strategy itself, so superposed decoding runs on the server (one pass
 * for k drafts, seen in its /metrics) instead of k samples; the API key travels as a bearer token the server checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, defaultModelDir } from '../../src/engine/engine';
import type { CompletionRequest } from '../../src/protocol';
import { RemoteCompleter } from '../../src/remote/remote';
import { SERVE_DEFAULTS, startServer, type RunningServer } from '../../src/serve/server';
import { TokenStore } from '../../src/serve/tokens';
import { call, sample } from '../serve/helpers';

const KEY = 'sk-serve-loopback-5f1c0d2e9a';
let engine: Engine;
let server: RunningServer;

beforeAll(async () => {
  engine = await Engine.load({ modelDir: defaultModelDir() });
  server = await startServer(engine, { ...SERVE_DEFAULTS, port: 0, strategy: 'sampling', modelId: 'superdraft-embedded', tokens: TokenStore.parse(`editor ${KEY}\n`) });
});

afterAll(async () => {
  await server?.close();
  await engine?.dispose();
});

const req = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  prefix: 'function area(width: number, height: number): number {\n  return ',
  suffix: '\n}\n',
  languageId: 'typescript',
  path: 'src/geometry.ts',
  strategy: 'superposed',
  k: 3,
  maxTokens: 16,
  mode: 'line',
  speculative: false,
  copyDrafts: false,
  ...over,
});

describe('remote backend openai → superdraft serve', () => {
  it('superposed k=3 runs on the server as one superposed pass (the server default is sampling), with the key as the bearer token', async () => {
    const metrics = async () => (await call(server.url, 'GET', '/metrics', undefined, KEY)).text;
    const before = await metrics();
    const remote = new RemoteCompleter({ backend: 'openai', endpoint: server.url, model: 'superdraft-embedded', fim: 'auto', apiKey: KEY });
    const res = await remote.complete(req());
    expect(res.server.ran).toBe('superposed');
    expect(res.drafts).toHaveLength(3);
    expect(new Set(res.drafts.map((d) => d.text)).size).toBe(3);
    for (const d of res.drafts) expect(d.server).toMatchObject({ backend: 'openai', model: 'superdraft-embedded' });
    const after = await metrics();
    const passes = (t: string, strategy: string) => sample(t, 'superdraft_decoding_passes_total', { strategy });
    expect(passes(after, 'superposed') - passes(before, 'superposed')).toBe(1);
    expect(passes(after, 'sampling') - passes(before, 'sampling')).toBe(0);

    // a wrong key: the server refuses it, and the message does not carry the key
    const wrong = new RemoteCompleter({ backend: 'openai', endpoint: server.url, model: 'superdraft-embedded', fim: 'auto', apiKey: 'sk-wrong-key-0000000000' });
    const err = await wrong.complete(req()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/401|unauthori[sz]ed|API key/i);
    expect(err?.message).not.toContain('sk-wrong-key');
  });
});
