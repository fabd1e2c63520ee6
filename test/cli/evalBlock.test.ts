/**
 * `superdraft eval --mode block` through the built CLI (node dist/cli.js) on the embedded model: whole blocks scored
 * after normalisation, the figures recomputed from the per-case details, and the refusals of what makes no sense.
 * The cases are this file's own (test/fixtures/eval/block-cases.jsonl), never the dev set's.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths';
import { editSimilarity, firstLineOf, normaliseBlock } from '../../src/cli/metrics';
import type { EvalCase as Case } from '../../src/cli/commands/evalCases';

const CLI = join(ROOT, 'dist', 'cli.js');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'eval', 'block-cases.jsonl');
const dir = mkdtempSync(join(tmpdir(), 'sd-eval-block-'));
const MODEL = process.env.SUPERDRAFT_MODEL_DIR ? ['--model', process.env.SUPERDRAFT_MODEL_DIR] : [];

function run(args: string[], timeout = 120_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'eval', ...args], { cwd: ROOT, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fixture: Case[] = readFileSync(FIXTURE, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const details = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; drafts: string[]; blocks: string[]; block_exact_top1: boolean; first_line_exact: boolean });
const writeCases = (name: string, cases: Case[]) => {
  const f = join(dir, name);
  writeFileSync(f, cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
  return f;
};
const FIGURES = ['first_line_exact', 'first_line_anyk', 'block_exact_top1', 'block_exact_anyk', 'block_edit_sim_top1', 'block_edit_sim_best'];

describe('eval --mode block', () => {
  it('scores whole blocks: a body the model writes (with other trailing whitespace) is exact, one it cannot write is not', () => {
    // 1. what greedy writes for the fixture's cases
    const d1 = join(dir, 'first.jsonl');
    const first = run(['--cases', FIXTURE, ...MODEL, '--mode', 'block', '--strategy', 'greedy', '--threads', '1', '--json', '--details', d1]);
    expect(first.code, first.stderr).toBe(0);
    const drafts = details(d1).map((d) => d.drafts[0] ?? '');
    expect(drafts[0].trim()).not.toBe('');
    // 2. the same positions, expecting: that draft (trailing spaces on every line and blank lines after it, which the
    //    comparison ignores); its first line and then a line it does not write; a body it cannot write
    const top = normaliseBlock(drafts[0]);
    const c0 = fixture[0];
    const cases: Case[] = [
      { ...c0, id: 'same', expected: top.split('\n').map((l) => `${l}  `).join('\n') + '\n\n' },
      { ...c0, id: 'first-line-only', expected: `${firstLineOf(top)}\n  zzz_not_written(\u03a9);` },
      { ...c0, id: 'never', expected: 'qqq_never_written(\u03a9, \u03a9);\n  return \u03a9;' },
    ];
    const d2 = join(dir, 'second.jsonl');
    const r = run(['--cases', writeCases('derived.jsonl', cases), ...MODEL, '--mode', 'block', '--strategy', 'greedy', '--threads', '1', '--json', '--details', d2]);
    expect(r.code, r.stderr).toBe(0);
    const obj = JSON.parse(r.stdout);
    expect(obj).toMatchObject({ cases: 3, mode: 'block', request_mode: 'auto', strategy: 'greedy', k: 1 });
    const per = details(d2);
    expect(per.map((d) => d.drafts[0])).toEqual([drafts[0], drafts[0], drafts[0]]);
    expect(per.map((d) => d.block_exact_top1)).toEqual([true, false, false]);
    expect(per.map((d) => d.first_line_exact)).toEqual([true, true, false]);
    expect(obj.first_line_exact).toBeCloseTo(2 / 3, 4);
    expect(obj.block_exact_top1).toBeCloseTo(1 / 3, 4);
    expect(obj.block_exact_anyk).toBeCloseTo(1 / 3, 4);
    const sims = cases.map((c) => editSimilarity(top, normaliseBlock(c.expected)));
    expect(sims[0]).toBe(1);
    expect(obj.block_edit_sim_top1).toBeCloseTo((sims[0] + sims[1] + sims[2]) / 3, 4);
    expect(obj.block_edit_sim_best).toBe(obj.block_edit_sim_top1); // one draft: best of k is the top one
    expect(obj.latency_ms_p95).toBeGreaterThanOrEqual(obj.latency_ms_p50);
    expect(obj.latency_ms_p50).toBeGreaterThan(0);
  });

  it('with k drafts: any of k and best of k recomputed from the drafts, and the human table', () => {
    const d = join(dir, 'k3.jsonl');
    const r = run(['--cases', FIXTURE, ...MODEL, '--mode', 'block', '--strategy', 'superposed', '-k', '3', '--threads', '1', '--json', '--details', d]);
    expect(r.code, r.stderr).toBe(0);
    const obj = JSON.parse(r.stdout);
    for (const key of [...FIGURES, 'latency_ms_p50', 'latency_ms_p95', 'drafts_per_case', 'fewer_than_k', 'top1_shape']) expect(obj).toHaveProperty(key);
    const per = details(d);
    let any = 0;
    let best = 0;
    per.forEach((p, i) => {
      const expected = normaliseBlock(fixture[i].expected);
      expect(p.blocks).toEqual(p.drafts.map(normaliseBlock));
      if (p.blocks.includes(expected)) any++;
      best += Math.max(...p.blocks.map((b) => editSimilarity(b, expected)), editSimilarity('', expected));
    });
    expect(obj.block_exact_anyk).toBeCloseTo(any / per.length, 4);
    expect(obj.block_edit_sim_best).toBeCloseTo(best / per.length, 4);
    expect(obj.block_edit_sim_best).toBeGreaterThanOrEqual(obj.block_edit_sim_top1);
    expect(obj.first_line_anyk).toBeGreaterThanOrEqual(obj.first_line_exact);
    expect(obj.first_line_exact).toBeGreaterThanOrEqual(obj.block_exact_top1);

    const t = run(['--cases', FIXTURE, ...MODEL, '--mode', 'block', '--strategy', 'greedy', '--threads', '1', '--limit', '1']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/1 cases · greedy k=1 · mode block/);
    expect(t.stdout).toMatch(/block exact top-1\s+\d/);
    expect(t.stdout).toMatch(/block edit sim best\s+[\d.]+/);
  });

  describe('refuses, with exit code 2 before loading the model', () => {
    const lineCase: Case = { id: 'mid-line', language: 'typescript', path: 'a.ts', prefix: 'const total = values.', suffix: '\n', expected: 'length;' };
    const cases: [string, () => string[], RegExp][] = [
      ['a next-edit flag', () => ['--cases', FIXTURE, '--mode', 'block', '--threshold', '0.5'], /--threshold is a next-edit flag .*eval --mode block does not take it/],
      ['a line case (not a block position)', () => ['--cases', writeCases('line.jsonl', [lineCase]), '--mode', 'block'], /case mid-line is not a block position.*--mode line/],
      ['block cases in line mode', () => ['--cases', FIXTURE], /case fixture:sum expects several lines.*--mode block/],
      ['--mode with --task next-edit', () => ['--task', 'next-edit', '--cases', FIXTURE, '--mode', 'block'], /--mode is a line-completion flag/],
      ['a negative time budget', () => ['--cases', FIXTURE, '--mode', 'block', '--time-budget=-5'], /--time-budget must be an integer in 0\.\.600000/],
    ];
    for (const [name, args, re] of cases) {
      it(name, () => {
        const r = run(args(), 30_000);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(re);
        expect(r.stderr).not.toMatch(/loading model/);
        expect(r.stdout).toBe('');
      });
    }
  });
});
