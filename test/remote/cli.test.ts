/**
 * The built CLI (node dist/cli.js) against the loopback servers (servers.ts): `superdraft complete --backend X
 * --endpoint URL --remote-model NAME -k 3 --no-copy --json` returns 3 distinct drafts from each server, every request
 * carries the key from SUPERDRAFT_API_KEY, the key is never printed, and vLLM gets a client-built FIM prompt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths';
import { COMPLETIONS, llamaCppServer, ollamaServer, openAiServer, type LoopbackServer } from './servers';

const CLI = join(ROOT, 'dist', 'cli.js');
const KEY = 'sk-cli-loopback-93be0a17';
const dir = mkdtempSync(join(tmpdir(), 'sd-remote-cli-'));
const file = join(dir, 'math.js');
writeFileSync(file, 'function add(a, b) {\n  \n}\n');

const servers: LoopbackServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** The CLI in a child process, asynchronously: the loopback servers answer from this process meanwhile. */
function cli(args: string[], key = KEY): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, SUPERDRAFT_API_KEY: key, SUPERDRAFT_DEBUG: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const at = ['--file', file, '--line', '2', '--column', '3'];

describe('superdraft complete --backend … -k 3 --no-copy --json', () => {
  const cases = [
    { backend: 'llama.cpp', model: 'qwen2.5-coder-1.5b-q8_0.gguf', make: () => llamaCppServer({ slots: 4, key: KEY }) },
    { backend: 'ollama', model: 'qwen2.5-coder:1.5b-base', make: () => ollamaServer({ models: ['qwen2.5-coder:1.5b-base'], key: KEY }) },
    { backend: 'openai', model: 'Qwen/Qwen2.5-Coder-1.5B', make: () => openAiServer({ models: ['Qwen/Qwen2.5-Coder-1.5B'], rejectSuffix: true, key: KEY }) },
  ];
  for (const c of cases) {
    it(`${c.backend}: 3 distinct drafts from the server, the key on every request and nowhere in the output`, async () => {
      const s = await c.make();
      servers.push(s);
      const r = await cli(['complete', '--backend', c.backend, '--endpoint', s.url, '--remote-model', c.model, '-k', '3', '--no-copy', '--json', ...at]);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as { backend: string; model: string; drafts: { text: string; origin: string; server: { backend: string; model: string; msPerDraft: number } }[] };
      expect(j.backend).toBe(c.backend);
      expect(j.drafts).toHaveLength(3);
      expect(new Set(j.drafts.map((d) => d.text)).size).toBe(3);
      for (const d of j.drafts) {
        expect(d.origin).toBe('server');
        expect(COMPLETIONS).toContain(d.text);
        expect(d.server).toMatchObject({ backend: c.backend, model: c.model });
        expect(d.server.msPerDraft).toBeGreaterThan(0);
      }
      expect(s.requests.length).toBeGreaterThan(0);
      expect(s.requests.every((q) => q.auth === `Bearer ${KEY}`)).toBe(true);
      expect(r.stdout + r.stderr).not.toContain(KEY);
      if (c.backend === 'openai') {
        const post = s.requests.find((q) => q.method === 'POST')!;
        expect(post.body.suffix).toBeUndefined();
        expect(post.body.prompt).toBe('<|fim_prefix|>function add(a, b) {\n  <|fim_suffix|>\n}\n<|fim_middle|>');
      }
    });
  }

  it('a wrong key: exit 1, HTTP 401 and the fix on stderr, the key nowhere', async () => {
    const s = await llamaCppServer({ slots: 4, key: KEY });
    servers.push(s);
    const wrong = 'sk-wrong-cli-5c0ffee1';
    const r = await cli(['complete', '--backend', 'llama.cpp', '--endpoint', s.url, '-k', '3', '--json', ...at], wrong);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/HTTP 401.*SUPERDRAFT_API_KEY/);
    expect(r.stdout).toBe('');
    expect(r.stdout + r.stderr).not.toContain(wrong);
  });

  it('usage errors: an unknown backend, a bad endpoint, --model with a remote backend', async () => {
    expect((await cli(['complete', '--backend', 'tgi', ...at])).stderr).toMatch(/unknown backend "tgi"/);
    expect((await cli(['complete', '--backend', 'ollama', '--endpoint', 'localhost:11434', ...at])).stderr).toMatch(/--endpoint must be an http\(s\) URL/);
    const r = await cli(['complete', '--backend', 'ollama', '--model', 'models/default', ...at]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--model is for the local engine/);
  });

  it('eval --backend: every case asked of the server, accuracy against its drafts', async () => {
    const s = await ollamaServer({ models: ['qwen2.5-coder:1.5b-base'], key: KEY });
    servers.push(s);
    const cases = join(dir, 'cases.jsonl');
    writeFileSync(cases, [
      JSON.stringify({ id: 'a', language: 'javascript', path: 'a.js', prefix: 'function add(a, b) {\n  ', suffix: '\n}\n', expected: 'return a + b;' }),
      JSON.stringify({ id: 'b', language: 'javascript', path: 'b.js', prefix: 'function sub(a, b) {\n  ', suffix: '\n}\n', expected: 'return a - b;' }),
    ].join('\n') + '\n');
    const r = await cli(['eval', '--backend', 'ollama', '--endpoint', s.url, '--remote-model', 'qwen2.5-coder:1.5b-base', '--cases', cases, '--strategy', 'sampling', '-k', '3', '--no-copy', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { cases: number; top1_exact: number; anyk_exact: number; backend: string; drafts_per_case: number };
    expect(j).toMatchObject({ cases: 2, backend: 'ollama', top1_exact: 0.5, anyk_exact: 0.5, drafts_per_case: 3 });
    expect(s.requests).toHaveLength(6);
    expect(s.requests.every((q) => q.auth === `Bearer ${KEY}`)).toBe(true);
  });

  it('bench --backend: keystroke → drafts p50/p95 over the bundled prompts', async () => {
    const s = await openAiServer({ models: ['bigcode/starcoder2-3b'] });
    servers.push(s);
    const r = await cli(['bench', '--backend', 'openai', '--endpoint', s.url, '--remote-model', 'bigcode/starcoder2-3b', '--strategy', 'sampling', '-k', '3', '--repeat', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { requests: number; latency_ms_p50: number; latency_ms_p95: number; drafts_per_request: number };
    expect(j.requests).toBe(s.requests.filter((q) => q.method === 'POST').length);
    expect(j.latency_ms_p95).toBeGreaterThanOrEqual(j.latency_ms_p50);
    expect(j.drafts_per_request).toBeGreaterThan(1);
    process.stderr.write(`[remote bench, loopback openai] ${r.stdout}`);
  });
});
