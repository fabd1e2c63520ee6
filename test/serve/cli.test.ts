/**
 * `superdraft serve` as the built CLI (node dist/cli.js) in a child process: a non-loopback bind without tokens is
 * refused with a message before any model is loaded; with a tokens file it serves (the embedded model): /health open,
 * 401 without the token, drafts with it; SIGTERM stops it cleanly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';
import { call } from './helpers';

const CLI = join(ROOT, 'dist', 'cli.js');
const TOKEN = 'ci-token-0123456789abcdef';
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'superdraft-serve-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('superdraft serve (the CLI)', () => {
  it('refuses a non-loopback bind without --tokens (exit 2, a message, no model loaded)', () => {
    for (const host of ['0.0.0.0', '::']) {
      const r = spawnSync(process.execPath, [CLI, 'serve', '--host', host, '--port', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`refusing to listen on ${host} without --tokens FILE`);
      expect(r.stderr).not.toContain('loading');
    }
  });

  it('refuses a bad tokens file (exit 2, the line named)', () => {
    const file = join(tmp, 'bad-tokens');
    writeFileSync(file, 'alice short\n');
    const r = spawnSync(process.execPath, [CLI, 'serve', '--tokens', file], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:1:`);
  });

  it('with a tokens file serves on any address: /health open, 401 without the token, drafts with it; SIGTERM stops it', async () => {
    const file = join(tmp, 'tokens');
    writeFileSync(file, `# ci\nci ${TOKEN}\n`);
    const child = spawn(process.execPath, [CLI, 'serve', '--model', 'embedded', '--host', '0.0.0.0', '--port', '0', '--tokens', file, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 600 && !stdout.includes('\n'); i++) await new Promise((r) => setTimeout(r, 100));
      const { port } = JSON.parse(stdout.split('\n')[0]);
      expect(stderr).toContain('1 token(s)');
      const url = `http://127.0.0.1:${port}`;
      expect((await call(url, 'GET', '/health')).status).toBe(200);
      expect((await call(url, 'GET', '/v1/models')).status).toBe(401);
      const r = await call(url, 'POST', '/v1/completions', { prompt: 'function add(a, b) {\n  return ', suffix: '\n}\n', n: 4, max_tokens: 12 }, TOKEN);
      expect(r.status).toBe(200);
      expect(r.json.choices.length).toBe(4);
      expect(r.json.superdraft.passes).toBe(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM, stopping');
  });
});
