/** `superdraft eval --task next-edit` through the built CLI (node dist/cli.js): its figures and its refusals. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths';
import { DEFAULTS } from '../../src/protocol/defaults';

const CLI = join(ROOT, 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'sd-next-edit-'));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'eval', '--task', 'next-edit', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// a rename carried to two uses (positive), and a name changed at one place whose old text stands only inside
// another word (negative: the naive rule, which matches characters, edits "separate")
const positive = { id: 'p', language: 'typescript', path: 'a.ts', text: 'const raw = read();\nconst lines = data.split(",");\nuse(data);\n', cursor: 9, edit: { offset: 6, delete: 3, insert: 'raw', old: 'data' }, expected: [{ offset: 34, delete: 4, insert: 'raw' }, { offset: 52, delete: 4, insert: 'raw' }] };
const negative = { id: 'n', language: 'python', path: 'b.py', text: 'y = base * tax\nprint(separate)\n', cursor: 14, edit: { offset: 11, delete: 3, insert: 'tax', old: 'rate' }, expected: [] };
const file = join(dir, 'cases.jsonl');
writeFileSync(file, [positive, negative].map((c) => JSON.stringify(c)).join('\n') + '\n');

describe('eval --task next-edit', () => {
  it('prints the figures and the naive baseline as one JSON object', () => {
    const r = run(['--cases', file, '--json', '--threshold', '0.5']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ task: 'next-edit', cases: 2, positives: 1, negatives: 1, k: 3, threshold: 0.5, top1_exact: 1, anyk_exact: 1, false_alarm_rate: 0 });
    expect(out.latency_ms_p50).toBeGreaterThanOrEqual(0);
    expect(out.latency_ms_p95).toBeGreaterThanOrEqual(out.latency_ms_p50);
    // the naive rule repeats "rate" → "tax" inside "separate": a false alarm
    expect(out.baseline).toMatchObject({ top1_exact: 1, false_alarm_rate: 1 });
  });

  it('uses the calibrated threshold by default', () => {
    expect(JSON.parse(run(['--cases', file, '--json']).stdout).threshold).toBe(DEFAULTS.nextEditThreshold);
  });

  it('a threshold of 1 shows nothing', () => {
    const out = JSON.parse(run(['--cases', file, '--json', '--threshold', '1']).stdout);
    expect(out).toMatchObject({ top1_exact: 0, anyk_exact: 0, false_alarm_rate: 0 });
  });

  it('refuses line-completion flags and malformed cases with exit code 2', () => {
    const r = run(['--cases', file, '--strategy', 'beam']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--strategy is a line-completion flag/);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, JSON.stringify({ text: 'x', edit: { offset: 0 }, expected: [] }) + '\n');
    const b = run(['--cases', bad]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/"edit" must be \{offset, delete, insert, old\}/);
  });
});
