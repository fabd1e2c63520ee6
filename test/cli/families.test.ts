/**
 * Every model family's tiny replica (test/fixtures/replicas: the Hub layout, random weights) through the real built
 * CLI (node dist/cli.js): `model prepare`, then `complete` with greedy, beam, sampling and superposed, each a real
 * child process. And the bad inputs of `model prepare`: exit 1, the offending file named on stderr, nothing written.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../src/engine/model/onnx/proto';
import { ROOT } from '../helpers/paths';

const CLI = join(ROOT, 'dist', 'cli.js');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'replicas');
const FAMILIES = ['qwen2', 'llama', 'deepseek', 'starcoder2', 'gpt_bigcode'];
const tmp = mkdtempSync(join(tmpdir(), 'sd-cli-families-'));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function copy(family: string): string {
  const dir = mkdtempSync(join(tmp, `${family}-`));
  cpSync(join(FIXTURES, family), dir, { recursive: true });
  return dir;
}
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('every family through the CLI', () => {
  for (const family of FAMILIES) {
    it(`${family}: model prepare, then greedy, beam, sampling and superposed complete`, () => {
      const dir = copy(family);
      const p = run(['model', 'prepare', dir]);
      expect(p.code, p.stderr).toBe(0);
      expect(p.stdout).toMatch(new RegExp(`prepared \\(${family === 'deepseek' ? 'llama' : family}\\)`)); // DeepSeek-Coder is model_type llama
      expect(p.stdout).toMatch(/present_delta\.\* outputs on 2 layers/);
      // A random-weight replica may end a draft at once (an end token or a line break first): this cursor gives every
      // family a non-empty greedy draft.
      const at = ['--file', 'examples/demo.ts', '--line', '5', '--column', '10', '--model', dir, '--max-tokens', '6', '--seed', '5', '--json'];
      for (const strategy of ['greedy', 'beam', 'sampling', 'superposed']) {
        const r = run(['complete', ...at, '--strategy', strategy, '-k', strategy === 'greedy' ? '1' : '3']);
        expect(r.code, `${strategy}: ${r.stderr}`).toBe(0);
        const res = JSON.parse(r.stdout);
        expect(res.strategy).toBe(strategy);
        expect(res.drafts.length, strategy).toBeGreaterThan(0);
        for (const d of res.drafts) expect(d.text, strategy).not.toMatch(/<\||\|>|<fim_|<｜|<PRE>|<SUF>|<MID>|<EOT>|<\/s>/);
      }
    });
  }
});

describe('model prepare: bad input through the CLI', () => {
  const fails = (dir: string, named: string, re: RegExp): void => {
    const before = snapshot(dir);
    const r = run(['model', 'prepare', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(named);
    expect(r.stderr).toMatch(re);
    expect(snapshot(dir)).toEqual(before); // nothing written, no temporary file left
  };

  it('no embedding lookup on input_ids names the graph', () => {
    const dir = copy('qwen2');
    const file = join(dir, 'onnx', 'model.onnx');
    const m = decodeModel(readFileSync(file));
    for (const n of m.graph.node) if (n.op_type === 'Gather' && n.input[1] === 'input_ids') n.op_type = 'GatherElements';
    writeFileSync(file, encodeModel(m));
    fails(dir, file, /no embedding lookup \(Gather or GatherBlockQuantized on "input_ids"\)/);
  });

  it('unknown model_type names config.json', () => {
    const dir = copy('llama');
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), model_type: 'rwkv' }));
    fails(dir, cfg, /unknown model_type "rwkv"/);
  });

  it('missing tokenizer names tokenizer.json', () => {
    const dir = copy('deepseek');
    unlinkSync(join(dir, 'tokenizer.json'));
    fails(dir, join(dir, 'tokenizer.json'), /tokenizer not found/);
  });

  it('missing and truncated external data name the data file', () => {
    const a = copy('starcoder2');
    unlinkSync(join(a, 'onnx', 'model.onnx_data'));
    fails(a, join(a, 'onnx', 'model.onnx_data'), /is missing/);
    const b = copy('gpt_bigcode');
    const data = join(b, 'onnx', 'model.onnx_data');
    truncateSync(data, statSync(data).size - 1);
    fails(b, data, /is truncated/);
  });

  it('an already prepared directory: exit 0, says so, changes nothing', () => {
    const dir = copy('qwen2');
    expect(run(['model', 'prepare', dir]).code).toBe(0);
    const before = snapshot(dir);
    const r = run(['model', 'prepare', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${dir}: already prepared (nothing changed)`);
    expect(snapshot(dir)).toEqual(before);
  });
});
