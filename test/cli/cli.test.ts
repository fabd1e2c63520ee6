/**
 * The real built CLI (node dist/cli.js) in child processes, on the embedded model: exit codes for bad input and the
 * JSON shape of `complete` and `eval`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths';

const CLI = join(ROOT, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'sd-cli-e2e-'));
/** The embedded model unless SUPERDRAFT_MODEL_DIR names another model directory. */
const MODEL = process.env.SUPERDRAFT_MODEL_DIR ? ['--model', process.env.SUPERDRAFT_MODEL_DIR] : [];

function run(args: string[], timeout = 240_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout, env: { ...process.env, SUPERDRAFT_DEBUG: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  expect(existsSync(CLI)).toBe(true);
});

const demo = 'examples/demo.ts';
const at = ['--file', demo, '--line', '40', '--column', '5'];

describe('usage errors exit with code 2 and a clear message, before loading the model', () => {
  const cases: [string, string[], RegExp][] = [
    ['k 0', [...at, '-k', '0'], /-k must be an integer in 1\.\.16 \(got 0\)/],
    ['k 17', [...at, '-k', '17'], /-k must be an integer in 1\.\.16 \(got 17\)/],
    ['k not a number', [...at, '-k', 'two'], /-k must be an integer/],
    ['max tokens 0', [...at, '--max-tokens', '0'], /--max-tokens must be an integer in 1\.\.1024 \(got 0\)/],
    ['max tokens 2000', [...at, '--max-tokens', '2000'], /--max-tokens must be an integer in 1\.\.1024 \(got 2000\)/],
    ['unknown strategy', [...at, '--strategy', 'topk'], /unknown strategy "topk"/],
    ['unknown device', [...at, '--device', 'tpu'], /unknown device "tpu"/],
    ['unknown mode', [...at, '--mode', 'para'], /unknown mode "para"/],
    ['missing line', ['--file', demo, '--column', '3'], /needs --line/],
    ['missing column', ['--file', demo, '--line', '3'], /needs --column/],
    ['missing file flag', ['--line', '3', '--column', '1'], /needs --file/],
    ['line 0', ['--file', demo, '--line', '0', '--column', '1'], /--line must be an integer in 1\.\./],
    ['line past the end', ['--file', demo, '--line', '999', '--column', '1'], /--line 999 is past the end/],
    ['column past the end', ['--file', demo, '--line', '40', '--column', '99'], /--column 99 is past the end of line 40/],
    ['missing file', ['--file', 'no/such/file.ts', '--line', '1', '--column', '1'], /file no\/such\/file.ts does not exist/],
    ['unknown option', [...at, '--frobnicate'], /Unknown option '--frobnicate'/],
  ];
  for (const [name, args, re] of cases) {
    it(name, () => {
      const r = run(['complete', ...args], 30_000);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/loading model/);
      expect(r.stdout).toBe('');
    });
  }
  it('binary file', () => {
    const f = join(dir, 'image.png');
    writeFileSync(f, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    const r = run(['complete', '--file', f, '--line', '1', '--column', '1'], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/looks binary/);
  });
  it('10 MB file', () => {
    const f = join(dir, 'huge.ts');
    writeFileSync(f, Buffer.alloc(10 * 1024 * 1024, 'a'));
    const r = run(['complete', '--file', f, '--line', '1', '--column', '1'], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/too large/);
  });
  it('unknown command, no command, bad eval input', () => {
    expect(run(['frob'], 30_000).code).toBe(2);
    const none = run([], 30_000);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: superdraft <command>/);
    expect(run(['eval'], 30_000).stderr).toMatch(/eval needs --cases/);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prefix": "x", "expected": "y"}\nnot json\n');
    const r = run(['eval', '--cases', bad], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.jsonl:2: not valid JSON/);
    expect(run(['eval', '--cases', bad, '--limit', '0'], 30_000).code).toBe(2);
  });
  it('--help exits 0 and documents 1-based positions', () => {
    const r = run(['complete', '--help'], 30_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1-based/);
    expect(run(['--help'], 30_000).code).toBe(0);
  });
});

describe('runtime errors exit with code 1', () => {
  it('a model directory without a model', () => {
    const r = run(['complete', ...at, '--model', dir], 60_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config\.json/);
  });
});

describe('JSON output on the embedded model', () => {
  it('complete --json prints exactly one JSON object with drafts and timing', () => {
    const r = run(['complete', ...at, ...MODEL, '--strategy', 'superposed', '-k', '2', '--max-tokens', '12', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const obj = JSON.parse(r.stdout); // throws unless stdout is exactly one JSON document
    expect(obj).toMatchObject({ file: demo, line: 40, column: 5, languageId: 'typescript', strategy: 'superposed', k: 2, mode: 'auto' });
    expect(Array.isArray(obj.drafts)).toBe(true);
    expect(obj.drafts.length).toBeGreaterThan(0);
    expect(obj.drafts.length).toBeLessThanOrEqual(2);
    for (const d of obj.drafts) {
      expect(typeof d.text).toBe('string');
      expect(d.text.trim().length).toBeGreaterThan(0);
      expect(Number.isFinite(d.score)).toBe(true);
      expect(d.tokens).toBeGreaterThan(0);
      expect(d.tokens).toBeLessThanOrEqual(12);
    }
    for (const key of ['totalMs', 'prefillMs', 'prefillTokens', 'reusedTokens', 'forwards', 'acceptedSpeculative']) {
      expect(typeof obj.timing[key]).toBe('number');
    }
    expect(obj.timing.prefillTokens).toBeGreaterThan(0);
    expect(obj.loadMs).toBeGreaterThan(0);
  });

  it('complete prints drafts for people without --json', () => {
    const r = run(['complete', ...at, ...MODEL, '--strategy', 'greedy', '--max-tokens', '8']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/examples\/demo\.ts:40:5 \(typescript\) · greedy/);
    expect(r.stdout).toMatch(/time \d+ ms/);
  });

  it('eval --json with --limit gives the documented fields', () => {
    // Cases from this repository's own source: the rest of a line after its first word.
    const src = readFileSync(join(ROOT, 'src', 'engine', 'text', 'stop.ts'), 'utf8');
    const lines = src.split('\n');
    const cases: object[] = [];
    for (let n = 60; n < lines.length && cases.length < 5; n += 37) {
      const m = /^(\s*\S+\s)(.+)$/.exec(lines[n]);
      if (!m) continue;
      const offset = lines.slice(0, n).join('\n').length + 1 + m[1].length;
      cases.push({ id: `stop.ts:${n + 1}`, language: 'typescript', path: 'src/engine/text/stop.ts', prefix: src.slice(0, offset), suffix: src.slice(offset + m[2].length), expected: m[2] });
    }
    const f = join(dir, 'cases.jsonl');
    writeFileSync(f, cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
    const r = run(['eval', '--cases', f, ...MODEL, '--limit', '3', '--strategy', 'greedy', '--max-tokens', '16', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const obj = JSON.parse(r.stdout);
    expect(Object.keys(obj).sort()).toEqual(
      ['cases', 'strategy', 'k', 'top1_exact', 'anyk_exact', 'top1_edit_sim', 'best_edit_sim', 'latency_ms_p50', 'latency_ms_p95', 'drafts_per_case', 'fewer_than_k'].sort(),
    );
    expect(obj.drafts_per_case).toBeLessThanOrEqual(1);
    expect(obj.fewer_than_k).toBe(Math.round(3 - 3 * obj.drafts_per_case));
    expect(obj.cases).toBe(3);
    expect(obj.strategy).toBe('greedy');
    expect(obj.k).toBe(1);
    for (const key of ['top1_exact', 'anyk_exact', 'top1_edit_sim', 'best_edit_sim']) {
      expect(obj[key]).toBeGreaterThanOrEqual(0);
      expect(obj[key]).toBeLessThanOrEqual(1);
    }
    expect(obj.best_edit_sim).toBeGreaterThanOrEqual(obj.top1_edit_sim);
    expect(obj.anyk_exact).toBeGreaterThanOrEqual(obj.top1_exact);
    expect(obj.latency_ms_p95).toBeGreaterThanOrEqual(obj.latency_ms_p50);
    expect(obj.latency_ms_p50).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/eval 3\/3/);
  });

  it('bench --json on one prompt gives every strategy and the ratios', () => {
    const r = run(['bench', ...MODEL, '--limit', '1', '--repeat', '1', '--max-tokens', '6', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const obj = JSON.parse(r.stdout);
    expect(obj.prompts).toBe(1);
    expect(obj.max_tokens).toBe(6);
    expect(obj.model_load_ms).toBeGreaterThan(0);
    expect(obj.rss_bytes.peak).toBeGreaterThanOrEqual(obj.rss_bytes.after_load);
    for (const name of ['greedy', 'greedy_speculative', 'superposed_k4', 'beam_k4', 'sampling_k4_batched', 'sampling_k1_x4_sequential']) {
      const st = obj.strategies[name];
      expect(st.requests, name).toBeGreaterThan(0);
      expect(st.latency_ms_p50, name).toBeGreaterThan(0);
      expect(st.latency_ms_p95, name).toBeGreaterThanOrEqual(st.latency_ms_p50);
      expect(st.tokens_per_s, name).toBeGreaterThan(0);
    }
    expect(obj.strategies.sampling_k1_x4_sequential.requests).toBe(4);
    for (const key of ['superposed_k4_over_greedy', 'superposed_k4_over_greedy_paired_median', 'sequential_nucleus_x4_over_superposed_k4', 'batched_nucleus_k4_over_superposed_k4', 'speculative_speedup_tokens_per_s', 'typed_char_over_cold_request']) {
      expect(obj.ratios[key], key).toBeGreaterThan(0);
    }
    // lossless acceleration: the accelerated greedy draft equals plain greedy
    expect(obj.ratios.speculative_identical_outputs).toBe('1/1');
    expect(obj.kv_reuse.typed_char_reused_tokens_p50).toBeGreaterThan(0);
    // the embedded model exports present_delta.*: step times with and without the append-only store
    expect(Object.keys(obj.kv_store)).toEqual(['context_100', 'context_400', 'context_800']);
    for (const v of Object.values(obj.kv_store) as { store_ms_per_step: number; present_ms_per_step: number }[]) {
      expect(v.store_ms_per_step).toBeGreaterThan(0);
      expect(v.present_ms_per_step).toBeGreaterThan(0);
    }
    expect(obj.strategies.greedy.decode_ms_per_token).toBeGreaterThan(0);
    for (const v of Object.values(obj.ratios_per_draft_token) as number[]) expect(v).toBeGreaterThan(0);
    // the device: copy bandwidth, the decoding step against its roofline, the cold path at 1 thread and the default
    expect(obj.roofline.bandwidth_gb_s).toBeGreaterThan(0);
    expect(obj.roofline.decode_over_roofline.default).toBeGreaterThan(0);
    expect(Object.keys(obj.cold_path).sort()).toEqual(['default_threads_1', 'default_threads_default', 'latency_target_ms']);
    expect(obj.cold_path.default_threads_default.prefill_ms_1024).toBeGreaterThan(obj.cold_path.default_threads_default.prefill_ms_256 / 8);
    expect(obj.peer).toBeNull(); // only with --peer
  });

  it('demo --json runs every strategy on the bundled example', () => {
    const r = run(['demo', ...MODEL, '--max-tokens', '8', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const obj = JSON.parse(r.stdout);
    expect(obj.file).toMatch(/examples[\\/]demo\.ts$/);
    expect(obj.runs.map((x: { name: string }) => x.name)).toEqual(['greedy', 'greedy + speculative', 'superposed k=3', 'beam k=3', 'sampling k=3']);
    for (const run of obj.runs) {
      expect(run.wallMs).toBeGreaterThan(0);
      expect(Array.isArray(run.drafts)).toBe(true);
    }
    // greedy with and without speculative units give the same drafts
    expect(obj.runs[1].drafts.map((d: { text: string }) => d.text)).toEqual(obj.runs[0].drafts.map((d: { text: string }) => d.text));
  });
});
