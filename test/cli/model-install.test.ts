/**
 * `superdraft model install | list | remove` through the built CLI (node dist/cli.js, a real child process) against
 * the loopback Hub (HF_ENDPOINT): a preset served by the mirror, the progress bar on stderr, the folder as the last
 * stdout line, list/remove; a gated repository with HF_TOKEN (never printed); a missing repository; Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackHub } from '../helpers/hubServer';
import { ROOT } from '../helpers/paths';

const CLI = join(ROOT, 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'sd-cli-install-'));
const replica = (name: string): string => {
  const d = join(tmp, 'hub', name);
  cpSync(join(ROOT, 'test', 'fixtures', 'replicas', name), d, { recursive: true });
  return d;
};
const hub = new LoopbackHub({
  'onnx-community/Qwen2.5-Coder-0.5B-Instruct': { dir: replica('qwen2') },
  'test/gated': { dir: replica('deepseek'), gated: true },
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, onStderr?: (s: string, kill: () => void) => void): Promise<Run> {
  const base = { ...process.env };
  delete base.HF_TOKEN;
  delete base.SUPERDRAFT_MODELS_DIR;
  return new Promise((res) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...base, HF_ENDPOINT: hub.url, ...env } });
    let stdout = '';
    let stderr = '';
    // one Ctrl-C: a second SIGINT landing while the process tears down would end it by the signal (no exit code)
    let interrupted = false;
    const interrupt = (): void => {
      if (!interrupted) p.kill('SIGINT');
      interrupted = true;
    };
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, interrupt);
    });
    p.on('close', (code) => res({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('superdraft model install/list/remove', () => {
  it('installs a preset from HF_ENDPOINT: progress on stderr, the folder last on stdout; list and remove', async () => {
    const store = join(tmp, 'store-a');
    const r = await run(['model', 'install', 'qwen2.5-coder-0.5b', '--dir', store]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe(join(store, 'qwen2.5-coder-0.5b'));
    expect(r.stderr).toMatch(/\[#+-*\]\s+\d+%\s+[\d.]+ (B|kB|MB) \/ [\d.]+ kB\s+(-- |[\d.]+ (B|kB|MB))\/s\s+[\d:-]+ left/);
    expect(r.stderr).toMatch(/\[#{24}\] 100%/);
    expect(r.stderr).toMatch(/installed qwen2.5-coder-0.5b \(q4, [\d.]+ kB\)/);
    expect(hub.requests.some((q) => q.path === '/api/models/onnx-community/Qwen2.5-Coder-0.5B-Instruct/tree/main')).toBe(true);

    const list = await run(['model', 'list', '--json', '--dir', store]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).models).toEqual([
      expect.objectContaining({ name: 'qwen2.5-coder-0.5b', folder: join(store, 'qwen2.5-coder-0.5b'), variant: 'q4', source: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct@main' }),
    ]);
    const complete = await run(['complete', '--file', 'examples/demo.ts', '--line', '40', '--column', '5', '--model', lines.at(-1)!, '--max-tokens', '4', '--json', '-k', '2']);
    expect(complete.code, complete.stderr).toBe(0);
    expect(JSON.parse(complete.stdout).drafts.length).toBeGreaterThan(0);

    const rm = await run(['model', 'remove', 'qwen2.5-coder-0.5b', '--dir', store]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toMatch(/removed qwen2.5-coder-0.5b/);
    expect(JSON.parse((await run(['model', 'list', '--json', '--dir', store])).stdout).models).toEqual([]);
    const again = await run(['model', 'remove', 'qwen2.5-coder-0.5b', '--dir', store]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no installed model named "qwen2.5-coder-0.5b"/);
  });

  it('gated repository: refused without HF_TOKEN and with a wrong one, installed with the right one; the token is never printed', async () => {
    const store = join(tmp, 'store-b');
    const none = await run(['model', 'install', 'test/gated', '--dir', store]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/test\/gated is gated or private: it needs a Hugging Face token/);
    const wrong = 'hf_notthetokenatall000';
    const bad = await run(['model', 'install', 'test/gated', '--dir', store], { HF_TOKEN: wrong });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/403/);
    const ok = await run(['model', 'install', 'test/gated', '--dir', store], { HF_TOKEN: hub.token });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe(join(store, 'gated'));
    for (const r of [none, bad, ok]) for (const t of [wrong, hub.token]) expect(r.stdout + r.stderr).not.toContain(t);
  });

  it('a missing repository and a bad variant exit non-zero naming them', async () => {
    const store = join(tmp, 'store-c');
    const r = await run(['model', 'install', 'nobody/nothing', '--dir', store]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/repository nobody\/nothing \(revision main\) was not found on http:\/\/127\.0\.0\.1/);
    expect(r.stdout).toBe('');
    const v = await run(['model', 'install', 'qwen2.5-coder-0.5b', '--variant', 'q8', '--dir', store]);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/has no q8 variant; it has fp32, q4/);
  });

  it('Ctrl-C mid-download exits 130 and leaves nothing half-installed', async () => {
    const store = join(tmp, 'store-d');
    hub.faults = { slow: [{ file: 'onnx/model_q4.onnx_data', delayMs: 20 }] };
    const r = await run(['model', 'install', 'qwen2.5-coder-0.5b', '--dir', store], {}, (s, kill) => {
      if (/onnx\/model_q4\.onnx_data/.test(s)) kill();
    });
    hub.faults = {};
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/cancelled; nothing was installed/);
    expect(readdirSync(store).filter((f) => f !== '.partial')).toEqual([]);
    expect(existsSync(join(store, '.partial')) ? readdirSync(join(store, '.partial')) : []).toEqual([]);
  });

  it('cut three times: two retries resume in the run, then it stops; listed as partial; remove deletes it', async () => {
    const store = join(tmp, 'store-e');
    const file = 'onnx/model_q4.onnx_data';
    hub.reset();
    hub.faults = { cut: [1, 2, 3].map(() => ({ file, after: 30_000 })) };
    const cut = await run(['model', 'install', 'qwen2.5-coder-0.5b', '--dir', store]);
    hub.faults = {};
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/onnx\/model_q4\.onnx_data: the download was interrupted after 90\.0 kB .*run the same install again to resume/);
    expect(hub.requests.filter((q) => q.path.startsWith('/storage/') && q.path.endsWith(file) && q.range).map((q) => q.range?.replace(/-\d+$/, '-'))).toEqual(['bytes=30000-', 'bytes=60000-']);
    const list = await run(['model', 'list', '--dir', store]);
    expect(list.stdout).toMatch(/\(partial\) qwen2\.5-coder-0\.5b: [\d.]+ kB downloaded; install it again to resume/);
    const rm = await run(['model', 'remove', 'qwen2.5-coder-0.5b', '--dir', store]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toMatch(/removed the partial download of qwen2\.5-coder-0\.5b/);
    expect(JSON.parse((await run(['model', 'list', '--json', '--dir', store])).stdout).partial).toEqual([]);
  });
});
