/**
 * `superdraft model prepare` / `model info` through the real built CLI (node dist/cli.js) on a tiny replica, then
 * `complete --strategy superposed` on the prepared directory.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths';

const CLI = join(ROOT, 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'sd-cli-model-'));
const dir = join(tmp, 'qwen2');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  // The ONNX schema is embedded in the bundles (the packaged extension ships only dist/*.js), not looked up as a file.
  for (const bundle of ['cli.js', 'server.js']) expect(readFileSync(join(ROOT, 'dist', bundle), 'utf8')).toContain('message ModelProto');
  cpSync(join(ROOT, 'test', 'fixtures', 'replicas', 'qwen2'), dir, { recursive: true });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('superdraft model', () => {
  it('info --json before prepare: not ready, says why and how to fix it', () => {
    const r = run(['model', 'info', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ family: 'qwen2', superposition: false, fix: `superdraft model prepare ${dir}`, fim: { format: 'psm', tokens: { prefix: '<|fim_prefix|>' } } });
    expect(info.variants.map((v: { file: string }) => v.file)).toEqual(['onnx/model.onnx', 'onnx/model_q4.onnx']);
  });

  it('superposed is refused before prepare, runs after; a second prepare is a no-op', () => {
    const at = ['--file', 'examples/demo.ts', '--line', '40', '--column', '5', '--model', dir, '--max-tokens', '4', '--json'];
    const before = run(['complete', ...at, '--strategy', 'superposed', '-k', '3']);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(/no superposition input \(token_weights\)/);
    const p = run(['model', 'prepare', dir]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/onnx\/model\.onnx: superposition input at Gather/);
    expect(p.stdout).toMatch(/prepared \(qwen2\)/);
    const again = run(['model', 'prepare', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already prepared \(nothing changed\)/);
    const after = run(['complete', ...at, '--strategy', 'superposed', '-k', '3']);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).drafts.length).toBeGreaterThan(0);
    expect(JSON.parse(run(['model', 'info', dir, '--json']).stdout).superposition).toBe(true);
  });

  it('prepare --int8-activations adds the q4a8 companion, which complete runs as --variant q4a8; info lists it', () => {
    const p = run(['model', 'prepare', dir, '--int8-activations']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/onnx\/model_q4a8\.onnx: 8-bit activations \(accuracy_level 4\) on the weights of onnx\/model_q4\.onnx/);
    const at = ['--file', 'examples/demo.ts', '--line', '40', '--column', '5', '--model', dir, '--max-tokens', '4', '--json'];
    const c = run(['complete', ...at, '--variant', 'q4a8', '--strategy', 'superposed', '-k', '3']);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).drafts.length).toBeGreaterThan(0);
    const info = JSON.parse(run(['model', 'info', dir, '--json']).stdout);
    expect(info.variants.find((v: { file: string }) => v.file === 'onnx/model_q4a8.onnx')).toMatchObject({ prepared: true });
    expect(run(['model', 'info', dir, '--int8-activations']).code).toBe(2);
  });

  it('bad input: exit 1 naming the file; usage errors exit 2', () => {
    const missing = run(['model', 'prepare', join(tmp, 'nope')]);
    expect(missing.code).toBe(2);
    const empty = mkdtempSync(join(tmp, 'empty-'));
    const r = run(['model', 'prepare', empty]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(empty, 'config.json'));
    expect(run(['model', 'frobnicate', dir]).code).toBe(2);
  });
});
