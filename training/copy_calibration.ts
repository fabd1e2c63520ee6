/**
 * Calibration of the ranking (src/engine/rank.ts RANK_WEIGHTS): one ranking of the strategy's drafts and the drafts
 * copied from the code, a logistic regression of "this draft's first line is the line" on the features rank.ts
 * computes. Runs the engine on held-out cases (training/heldout_lines.py: corpus files never trained on, with and
 * without --boundary; training/own_code_cases.mjs: this repository's code), never on the shared dev set. Reports, per
 * case file, top-1 and any-of-k exact for the shipped weights, for the mean log-probability alone and for weights
 * fitted on the other files (leave one file out), then the weights fitted on all of them (what rank.ts ships).
 *
 *   npx tsx training/copy_calibration.ts CASES.jsonl [CASES2.jsonl ...] [--strategy superposed] [-k 3] [--limit N]
 *     [--threads N] [--save FEATURES.json | --load FEATURES.json] > report.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Engine } from '../src/engine/engine';
import { firstLineOf } from '../src/cli/metrics';
import { chooseShown, draftScore, RANK_WEIGHTS, rankVector, type RankFeatures } from '../src/engine/candidates/rank';

type Weights = typeof RANK_WEIGHTS;
type StrategyName = 'superposed' | 'beam' | 'sampling';
interface Cand { f: RankFeatures; exact: boolean; model: boolean }

const KEYS = Object.keys(RANK_WEIGHTS) as (keyof Weights)[];

/** rank.ts rankVector as an array in RANK_WEIGHTS' key order (score = weights · vector). */
const vector = (f: RankFeatures): number[] => {
  const v = rankVector(f);
  return KEYS.map((k) => v[k]);
};

/** Every ranked candidate of each case, with its features and whether its first line is the expected line. */
async function candidates(cases: { prefix: string; suffix: string; language: string; path: string; expected: unknown }[], strategy: StrategyName, k: number, threads?: number): Promise<Cand[][]> {
  const all: Cand[][] = [];
  let last: Cand[] = [];
  let expected = '';
  const engine = await Engine.load({
    ...(threads ? { threads } : {}),
    onRanked: (ranked) => (last = ranked.map((r) => ({ f: r.features, exact: firstLineOf(r.draft.text) === expected, model: r.model }))),
  });
  for (const c of cases) {
    expected = String(c.expected).trimEnd();
    last = [];
    await engine.complete({ prefix: c.prefix, suffix: c.suffix, languageId: c.language, path: c.path, strategy, k, mode: 'line', seed: 1 });
    all.push(last);
  }
  await engine.dispose();
  return all;
}

/** Top-1 and any-of-k exact of a scoring, the k chosen as rank.ts chooses them (chooseShown). */
function evaluate(all: Cand[][], score: (f: RankFeatures) => number, k: number): { top1: number; anyk: number } {
  let top1 = 0;
  let anyk = 0;
  for (const cands of all) {
    const sorted = cands.map((x) => ({ x, s: score(x.f) })).sort((a, b) => b.s - a.s).map((t) => t.x);
    const top = chooseShown(sorted, k);
    if (top[0]?.exact) top1++;
    if (top.some((x) => x.exact)) anyk++;
  }
  const r = (n: number) => Math.round((1000 * n) / Math.max(1, all.length)) / 1000;
  return { top1: r(top1), anyk: r(anyk) };
}

/** Solves A x = b (Gaussian elimination with partial pivoting; A is small and positive definite here). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let j = c; j <= n; j++) M[r]![j]! -= f * M[c]![j]!;
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!;
    for (let j = r + 1; j < n; j++) s -= M[r]![j]! * x[j];
    x[r] = s / M[r]![r]!;
  }
  return x;
}

/** L2-regularised logistic regression by Newton's method over every candidate of every case. */
function fit(all: Cand[][], l2 = 1): Weights {
  // a candidate without scored tokens ranks last whatever the weights (draftScore: -Infinity): nothing to fit
  const rows = all.flat().filter((x) => Number.isFinite(x.f.mean) && x.f.tokens > 0).map((x) => ({ v: vector(x.f), y: x.exact ? 1 : 0 }));
  const d = KEYS.length;
  let w = new Array(d).fill(0);
  for (let it = 0; it < 50; it++) {
    const g = w.map((wi) => l2 * wi);
    const H = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? l2 : 0)));
    for (const { v, y } of rows) {
      let z = 0;
      for (let i = 0; i < d; i++) z += w[i] * v[i]!;
      const p = 1 / (1 + Math.exp(-z));
      for (let i = 0; i < d; i++) {
        g[i] += (p - y) * v[i]!;
        for (let j = 0; j < d; j++) H[i]![j]! += p * (1 - p) * v[i]! * v[j]!;
      }
    }
    const step = solve(H, g);
    w = w.map((wi, i) => wi - step[i]!);
    if (Math.max(...step.map(Math.abs)) < 1e-7) break;
  }
  return Object.fromEntries(KEYS.map((k, i) => [k, Math.round(w[i] * 1000) / 1000])) as Weights;
}

const scoreWith = (w: Weights) => (f: RankFeatures): number => draftScore(f, w);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : def);
  const valued = new Set(['--strategy', '-k', '--limit', '--threads', '--save', '--load']);
  const files = args.filter((a, i) => !a.startsWith('-') && !valued.has(args[i - 1] ?? ''));
  const strategy = opt('--strategy', 'superposed') as StrategyName;
  const k = Number(opt('-k', '3'));
  const limit = Number(opt('--limit', '100000'));
  const threads = args.includes('--threads') ? Number(opt('--threads', '')) : undefined;
  // --save FILE keeps the candidates (features) so that --load FILE refits without the model
  let sets: Record<string, Cand[][]> = {};
  if (args.includes('--load')) sets = JSON.parse(readFileSync(opt('--load', ''), 'utf8'));
  else {
    for (const file of files) {
      const cases = readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, limit).map((l) => JSON.parse(l));
      sets[file] = await candidates(cases, strategy, k, threads);
      process.stderr.write(`${file}: ${cases.length} cases\n`);
    }
  }
  if (args.includes('--save')) writeFileSync(opt('--save', ''), JSON.stringify(sets));
  const names = Object.keys(sets);
  const report: Record<string, unknown> = {};
  for (const name of names) {
    const all = sets[name]!;
    const others = names.filter((n) => n !== name).flatMap((n) => sets[n]!);
    report[name] = {
      cases: all.length,
      oracle_any: Math.round((1000 * all.filter((c) => c.some((x) => x.exact)).length) / all.length) / 1000,
      shipped: evaluate(all, (f) => draftScore(f), k),
      mean_only: evaluate(all, (f) => f.mean, k),
      ...(others.length > 0 ? { fitted_on_the_others: evaluate(all, scoreWith(fit(others)), k) } : {}),
    };
  }
  const weights = fit(names.flatMap((n) => sets[n]!));
  process.stdout.write(JSON.stringify({ strategy, k, sets: report, fitted_on_all: weights, shipped: RANK_WEIGHTS }, null, 1) + '\n');
}

void main();
