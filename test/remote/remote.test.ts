/**
 * The remote backends (src/remote/) against loopback servers that follow each server's published API
 * (test/remote/servers.ts cites the sections): k drafts per backend, the FIM prompt built in the client with each
 * family's tokens, the servers' own errors turned into errors a user can act on, cancellation that the server sees,
 * and a server killed mid-response.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CompletionRequest } from '../../src/protocol';
import { RemoteCompleter, RemoteError, cleanDraft } from '../../src/remote/remote';
import { buildFimPrompt, familyOfModelName, resolveFamily } from '../../src/remote/fim';
import { COMPLETIONS, llamaCppServer, ollamaServer, openAiServer, type LoopbackServer } from './servers';

const KEY = 'sk-loopback-7f3a9c2e51';
const servers: LoopbackServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
async function up(s: Promise<LoopbackServer>): Promise<LoopbackServer> {
  const server = await s;
  servers.push(server);
  return server;
}

function request(over: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    prefix: 'function add(a, b) {\n  ',
    suffix: '\n}\n',
    languageId: 'javascript',
    path: 'src/math.js',
    snippets: [{ path: 'src/util.js', text: 'export const twice = (x) => x * 2;\n' }],
    strategy: 'sampling',
    k: 3,
    maxTokens: 32,
    mode: 'line',
    speculative: true,
    copyDrafts: false,
    ...over,
  };
}

async function failure(p: Promise<unknown>): Promise<RemoteError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteError);
    return e as RemoteError;
  }
  throw new Error('expected a RemoteError');
}

describe('FIM prompts built in the client: the exact tokens of each family', () => {
  const input = { prefix: 'def f(x):\n    ', suffix: '\n', path: 'a.py' };
  const cases: [string, string][] = [
    ['Qwen/Qwen2.5-Coder-1.5B', '<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n<|fim_middle|>'],
    ['qwen2.5-coder:7b-base', '<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n<|fim_middle|>'],
    ['bigcode/starcoder2-3b', '<fim_prefix>def f(x):\n    <fim_suffix>\n<fim_middle>'],
    ['deepseek-ai/deepseek-coder-1.3b-base', '<｜fim▁begin｜>def f(x):\n    <｜fim▁hole｜>\n<｜fim▁end｜>'],
    ['codellama/CodeLlama-7b-hf', '<PRE> def f(x):\n     <SUF>\n <MID>'],
  ];
  for (const [model, prompt] of cases) {
    it(model, () => {
      const family = familyOfModelName(model);
      expect(family).toBeDefined();
      expect(buildFimPrompt(family!, input)).toBe(prompt);
    });
  }
  it('an unknown name has no family; superdraft.remoteFim overrides the name', () => {
    expect(familyOfModelName('mistral-7b-instruct')).toBeUndefined();
    expect(resolveFamily('auto', 'my-finetune')).toBeUndefined();
    expect(resolveFamily('starcoder', 'my-finetune')).toBe('starcoder');
  });
  it('Qwen and StarCoder2 get the other files as repository-level context', () => {
    const p = buildFimPrompt('qwen', { ...input, snippets: [{ path: 'b.py', text: 'X = 1' }] });
    expect(p).toBe('<|file_sep|>b.py\nX = 1\n<|file_sep|>a.py\n<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n<|fim_middle|>');
  });
});

describe('llama.cpp /infill', () => {
  it('k drafts in one call with n_cmpl = k; the key on every request; ordered by the server log-probabilities', async () => {
    const s = await up(llamaCppServer({ slots: 4, key: KEY }));
    const r = await new RemoteCompleter({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto', apiKey: KEY }).complete(request());
    expect(s.requests).toHaveLength(1);
    const body = s.requests[0]!.body;
    expect(s.requests[0]!.path).toBe('/infill');
    expect(body).toMatchObject({ input_prefix: 'function add(a, b) {\n  ', input_suffix: '\n}\n', n_cmpl: 3, n_predict: 32, n_probs: 1, input_extra: [{ filename: 'src/util.js', text: 'export const twice = (x) => x * 2;\n' }] });
    expect(s.requests.every((q) => q.auth === `Bearer ${KEY}`)).toBe(true);
    expect(r.drafts.map((d) => d.text)).toEqual(COMPLETIONS.slice(0, 3));
    expect(r.drafts.map((d) => d.server?.backend)).toEqual(['llama.cpp', 'llama.cpp', 'llama.cpp']);
    expect(r.drafts[0]!.score).toBeCloseTo(-0.1);
  });

  it('fewer slots than k: the slots error is recognised, then as many parallel requests as slots, said once', async () => {
    const s = await up(llamaCppServer({ slots: 2 }));
    const notices: string[] = [];
    const c = new RemoteCompleter({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto', notice: (m) => notices.push(m) });
    const r = await c.complete(request());
    expect(s.requests.map((q) => `${q.method} ${q.path} ${q.body.n_cmpl ?? ''}`)).toEqual(['POST /infill 3', 'GET /props ', 'POST /infill 1', 'POST /infill 1']);
    expect(r.drafts).toHaveLength(2);
    expect(new Set(r.drafts.map((d) => d.text)).size).toBe(2);
    await c.complete(request());
    expect(s.requests.slice(4).map((q) => q.body.n_cmpl)).toEqual([1, 1]); // remembered: no refused call again
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/2 slots .*-np 3/);
  });

  it('greedy: one completion at temperature 0', async () => {
    const s = await up(llamaCppServer({ slots: 4 }));
    const r = await new RemoteCompleter({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto' }).complete(request({ strategy: 'greedy' }));
    expect(s.requests[0]!.body).toMatchObject({ n_cmpl: 1, temperature: 0 });
    expect(r.drafts.map((d) => d.text)).toEqual([COMPLETIONS[0]]);
    expect(r.server.ran).toBe('greedy');
  });

  it('a server killed mid-response: truncated, naming the endpoint', async () => {
    const s = await up(llamaCppServer({ slots: 4, killMidResponse: true }));
    const e = await failure(new RemoteCompleter({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto' }).complete(request()));
    expect(e.code).toBe('truncated');
    expect(e.message).toContain(s.url);
  });
});

describe('Ollama /api/generate', () => {
  it('k concurrent NDJSON streams with distinct seeds, the first at temperature 0', async () => {
    const s = await up(ollamaServer({ models: ['qwen2.5-coder:1.5b-base'], key: KEY }));
    const r = await new RemoteCompleter({ backend: 'ollama', endpoint: s.url, model: 'qwen2.5-coder:1.5b-base', fim: 'auto', apiKey: KEY }).complete(request({ seed: 1 }));
    expect(s.requests).toHaveLength(3);
    const opts = s.requests.map((q) => q.body.options as { temperature: number; seed: number; num_predict: number });
    expect(opts.map((o) => o.temperature)).toEqual([0, 0.8, 0.8]);
    expect(new Set(opts.map((o) => o.seed)).size).toBe(3);
    expect(s.requests.every((q) => q.body.suffix === '\n}\n' && q.body.prompt === 'function add(a, b) {\n  ' && q.body.stream === true)).toBe(true);
    expect(s.requests.every((q) => q.auth === `Bearer ${KEY}`)).toBe(true);
    expect(r.drafts.map((d) => d.text)).toEqual([COMPLETIONS[0], COMPLETIONS[2], COMPLETIONS[3]]);
  });

  it('"does not support suffix": the FIM prompt is built in the client (raw) for a known family, once per model', async () => {
    const model = 'deepseek-coder:1.3b-instruct';
    const s = await up(ollamaServer({ models: [model], noSuffix: [model] }));
    const notices: string[] = [];
    const c = new RemoteCompleter({ backend: 'ollama', endpoint: s.url, model, fim: 'auto', notice: (m) => notices.push(m) });
    const r = await c.complete(request({ snippets: [] }));
    expect(r.drafts).toHaveLength(3);
    const raw = s.requests.filter((q) => q.body.raw === true);
    expect(raw).toHaveLength(3);
    expect(raw[0]!.body.prompt).toBe('<｜fim▁begin｜>function add(a, b) {\n  <｜fim▁hole｜>\n}\n<｜fim▁end｜>');
    expect(raw[0]!.body.suffix).toBeUndefined();
    const before = s.requests.length;
    await c.complete(request({ snippets: [] }));
    expect(s.requests.slice(before).every((q) => q.body.raw === true)).toBe(true);
    expect(notices).toHaveLength(1);
  });

  it('"does not support suffix" with an unknown family: one error naming the settings', async () => {
    const s = await up(ollamaServer({ models: ['llama3'], noSuffix: ['llama3'] }));
    const e = await failure(new RemoteCompleter({ backend: 'ollama', endpoint: s.url, model: 'llama3', fim: 'auto' }).complete(request()));
    expect(e.code).toBe('suffix_unsupported');
    expect(e.message).toMatch(/superdraft\.remoteModel.*superdraft\.remoteFim/);
  });

  it('an unknown model: 404 becomes "ollama pull"', async () => {
    const s = await up(ollamaServer({ models: ['qwen2.5-coder:1.5b-base'] }));
    const e = await failure(new RemoteCompleter({ backend: 'ollama', endpoint: s.url, model: 'nope:1b', fim: 'auto' }).complete(request()));
    expect(e.code).toBe('unknown_model');
    expect(e.message).toContain('ollama pull nope:1b');
  });

  it('a server killed mid-stream: truncated', async () => {
    const s = await up(ollamaServer({ models: ['qwen2.5-coder:1.5b-base'], killMidResponse: true }));
    const e = await failure(new RemoteCompleter({ backend: 'ollama', endpoint: s.url, model: 'qwen2.5-coder:1.5b-base', fim: 'auto' }).complete(request()));
    expect(e.code).toBe('truncated');
  });
});

describe('OpenAI-compatible /v1/completions', () => {
  it('vLLM (rejects suffix): n = k over SSE with a client-built FIM prompt and no suffix field', async () => {
    const model = 'Qwen/Qwen2.5-Coder-1.5B';
    const s = await up(openAiServer({ models: [model], rejectSuffix: true, key: KEY }));
    const r = await new RemoteCompleter({ backend: 'openai', endpoint: `${s.url}/v1`, model, fim: 'auto', apiKey: KEY }).complete(request());
    const post = s.requests.find((q) => q.method === 'POST')!;
    expect(post.path).toBe('/v1/completions');
    expect(post.body.suffix).toBeUndefined();
    expect(post.body.prompt).toBe('<|file_sep|>src/util.js\nexport const twice = (x) => x * 2;\n\n<|file_sep|>src/math.js\n<|fim_prefix|>function add(a, b) {\n  <|fim_suffix|>\n}\n<|fim_middle|>');
    expect(post.body).toMatchObject({ n: 3, stream: true, max_tokens: 32, logprobs: 1 });
    expect(post.body.stop).toEqual(expect.arrayContaining(['\n', '<|endoftext|>', '<|file_sep|>']));
    expect(s.requests.every((q) => q.auth === `Bearer ${KEY}`)).toBe(true);
    expect(r.drafts.map((d) => d.text)).toEqual(COMPLETIONS.slice(0, 3));
    expect(r.drafts[0]!.score).toBeCloseTo(-0.2);
  });

  for (const [model, start] of [
    ['bigcode/starcoder2-7b', '<fim_prefix>'],
    ['deepseek-ai/deepseek-coder-6.7b-base', '<｜fim▁begin｜>'],
    ['codellama/CodeLlama-13b-hf', '<PRE> '],
  ] as const) {
    it(`vLLM with ${model}: the family's tokens`, async () => {
      const s = await up(openAiServer({ models: [model], rejectSuffix: true }));
      const r = await new RemoteCompleter({ backend: 'openai', endpoint: s.url, model, fim: 'auto' }).complete(request({ snippets: [] }));
      expect(r.drafts).toHaveLength(3);
      const prompt = String(s.requests.find((q) => q.method === 'POST')!.body.prompt);
      expect(prompt.startsWith(start)).toBe(true);
      expect(prompt).toBe(buildFimPrompt(familyOfModelName(model)!, { prefix: 'function add(a, b) {\n  ', suffix: '\n}\n', path: '' }));
    });
  }

  it('an unknown family sends suffix; vLLM\'s 400 becomes one error naming superdraft.remoteFim', async () => {
    const s = await up(openAiServer({ models: ['my-finetune'], rejectSuffix: true }));
    const e = await failure(new RemoteCompleter({ backend: 'openai', endpoint: s.url, model: 'my-finetune', fim: 'auto' }).complete(request()));
    expect(s.requests.find((q) => q.method === 'POST')!.body.suffix).toBe('\n}\n');
    expect(e.code).toBe('suffix_unsupported');
    expect(e.message).toMatch(/suffix is not currently supported.*superdraft\.remoteFim/);
  });

  it('a server that accepts suffix (LM Studio) with an unknown family: prompt and suffix as they are', async () => {
    const s = await up(openAiServer({ models: ['my-finetune'] }));
    const r = await new RemoteCompleter({ backend: 'openai', endpoint: s.url, model: '', fim: 'auto' }).complete(request());
    const post = s.requests.find((q) => q.method === 'POST')!;
    expect(post.body).toMatchObject({ model: 'my-finetune', prompt: 'function add(a, b) {\n  ', suffix: '\n}\n' });
    expect(r.drafts).toHaveLength(3);
  });

  it('superdraft serve (owned_by superdraft): the strategy in the one body field', async () => {
    const s = await up(openAiServer({ models: ['superdraft'], owner: 'superdraft' }));
    const r = await new RemoteCompleter({ backend: 'openai', endpoint: s.url, model: 'superdraft', fim: 'auto' }).complete(request({ strategy: 'superposed' }));
    expect(s.requests.find((q) => q.method === 'POST')!.body.superdraft_strategy).toBe('superposed');
    expect(r.server.ran).toBe('superposed');
  });

  it('a wrong key: 401 becomes an auth error that names the command, and the key is nowhere in it', async () => {
    const s = await up(openAiServer({ models: ['Qwen/Qwen2.5-Coder-1.5B'], key: KEY }));
    const wrong = 'sk-wrong-4d1e88b0c2';
    const e = await failure(new RemoteCompleter({ backend: 'openai', endpoint: s.url, model: 'Qwen/Qwen2.5-Coder-1.5B', fim: 'auto', apiKey: wrong }).complete(request()));
    expect(e.code).toBe('auth');
    expect(e.message).toMatch(/HTTP 401.*Set API Key/);
    expect(JSON.stringify({ m: e.message, s: e.stack })).not.toContain(wrong);
    expect(s.requests[0]!.auth).toBe(`Bearer ${wrong}`);
  });

  it('a server killed mid-stream: truncated', async () => {
    const s = await up(openAiServer({ models: ['bigcode/starcoder2-3b'], killMidResponse: true }));
    const e = await failure(new RemoteCompleter({ backend: 'openai', endpoint: s.url, model: 'bigcode/starcoder2-3b', fim: 'auto' }).complete(request()));
    expect(e.code).toBe('truncated');
  });
});

describe('every backend', () => {
  const make = {
    'llama.cpp': (b: { delayMs?: number }) => llamaCppServer({ slots: 4, ...b }),
    ollama: (b: { delayMs?: number }) => ollamaServer({ models: ['qwen2.5-coder:1.5b-base'], ...b }),
    openai: (b: { delayMs?: number }) => openAiServer({ models: ['qwen2.5-coder:1.5b-base'], ...b }),
  } as const;
  for (const backend of ['llama.cpp', 'ollama', 'openai'] as const) {
    it(`${backend}: a keystroke's abort closes the connection; the server sees it within 50 ms`, async () => {
      const s = await up(make[backend]({ delayMs: 5_000 }));
      const ac = new AbortController();
      const c = new RemoteCompleter({ backend, endpoint: s.url, model: 'qwen2.5-coder:1.5b-base', fim: 'auto' });
      const p = c.complete(request(), ac.signal);
      // wait until the server holds every request of this completion
      const expected = backend === 'ollama' ? 3 : 1;
      while (s.requests.filter((q) => q.method === 'POST').length < expected) await new Promise((r) => setTimeout(r, 5));
      const closed = s.nextEarlyClose();
      const t0 = performance.now();
      ac.abort();
      const e = await failure(p);
      const seen = await closed;
      expect(e.code).toBe('cancelled');
      expect(seen - t0).toBeLessThan(50);
    });

    it(`${backend}: connection refused names superdraft.endpoint`, async () => {
      const s = await make[backend]({});
      const url = s.url;
      await s.close();
      const e = await failure(new RemoteCompleter({ backend, endpoint: url, model: 'qwen2.5-coder:1.5b-base', fim: 'auto' }).complete(request()));
      expect(e.code).toBe('unreachable');
      expect(e.transient).toBe(true);
      expect(e.message).toMatch(/ECONNREFUSED.*superdraft\.endpoint/);
    });

    it(`${backend}: a slow server past the client deadline is a timeout`, async () => {
      const s = await up(make[backend]({ delayMs: 2_000 }));
      const e = await failure(new RemoteCompleter({ backend, endpoint: s.url, model: 'qwen2.5-coder:1.5b-base', fim: 'auto', timeoutMs: 150 }).complete(request()));
      expect(e.code).toBe('timeout');
    });
  }

  it('copies from the document are ranked with the server drafts (a strong copy right after the server\'s first)', async () => {
    const s = await up(llamaCppServer({ slots: 4 }));
    const prefix = 'function add(a, b) {\n  return a * 2 + b;\n}\nfunction add2(a, b) {\n  ';
    const r = await new RemoteCompleter({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto' }).complete(request({ prefix, copyDrafts: true, k: 3 }));
    expect(r.drafts).toHaveLength(3);
    expect(r.drafts[0]!.server).toBeDefined();
    expect(r.drafts[1]!.copiedFrom?.path).toBe('');
    expect(r.drafts[1]!.text).toBe('return a * 2 + b;');
    expect(r.timing.copyCandidates).toBeGreaterThan(0);
  });

  it('cleaning is the local engine\'s: line mode keeps the line, block mode ends with the block, the rest of the line is not repeated', () => {
    const at = { prefix: 'x = ', suffix: '', mode: 'line' as const, languageId: 'javascript' };
    expect(cleanDraft('foo(a);\nbar();', at)).toBe('foo(a);');
    expect(cleanDraft('foo(a));', { ...at, suffix: ');' })).toBe('foo(a)');
    const block = { prefix: 'function f(a) {\n', suffix: '\n}\n', mode: 'auto' as const, languageId: 'javascript' };
    expect(cleanDraft('  const b = a + 1;\n  return b;\n}\n\nfunction g() {\n', block)).toBe('  const b = a + 1;\n  return b;');
  });
});
