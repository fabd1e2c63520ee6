/**
 * Calibration of the next-edit ranking (src/engine/nextEdit/weights.ts and DEFAULTS.nextEditThreshold): a logistic
 * regression of "this site is one of the expected next edits" on the features features.ts computes, over cases made
 * from other histories (training/next_edit_cases.ts), never the shared dev set. Reports, per case file, the figures of
 * weights fitted on the other files (leave one file out), then fits on all files and picks the threshold: the lowest
 * whose false-alarm rate on the negative cases is at most --max-false-alarms (default 0.06).
 *
 *   npx tsx training/next_edit_fit.ts CASES.jsonl [CASES2.jsonl ...] [--max-false-alarms 0.06] [-k 3] > fit.json
 */
import { readFileSync } from 'node:fs';
import { FEATURE_NAMES } from '../src/engine/nextEdit/features';
import { candidateSites, logit, MAX_RANKED_SITES, sameResult, sigmoid } from '../src/engine/nextEdit/nextEdit';

interface Row { f: number[]; y: number }
/** Sites per case that take part (the nearest; the engine scores as many: MAX_RANKED_SITES). */
const MAX_SITES = MAX_RANKED_SITES;
interface Case { rows: Row[]; positive: boolean }

const args = process.argv.slice(2);
const files = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && args[i - 1].startsWith('-')));
const optNum = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const maxFalseAlarms = optNum('--max-false-alarms', 0.06);
const k = optNum('-k', 3);

/** Cases one commit may give (a sweeping mechanical commit would outweigh the rest). */
const PER_COMMIT = 2;

function load(file: string): Case[] {
  const out: Case[] = [];
  const perCommit = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    const commit = `${c.id.split(':')[1]}:${c.expected.length > 0}`;
    if ((perCommit.get(commit) ?? 0) >= PER_COMMIT) continue;
    perCommit.set(commit, (perCommit.get(commit) ?? 0) + 1);
    const rows = candidateSites(c.text, c.edit).slice(0, MAX_SITES).map((s) => ({ f: s.features, y: c.expected.some((e: never) => sameResult(c.text, s.edit, e)) ? 1 : 0 }));
    out.push({ rows, positive: c.expected.length > 0 });
  }
  return out;
}

/** L2-regularised logistic regression by gradient descent; each case weighs the same whatever its number of sites. */
function fit(cases: Case[], l2 = 0.01, steps = 600, lr = 1): number[] {
  const d = FEATURE_NAMES.length;
  const w = new Array<number>(d).fill(0);
  const rows = cases.flatMap((c) => c.rows.map((r) => ({ ...r, weight: 1 / Math.sqrt(c.rows.length) })));
  const total = rows.reduce((s, r) => s + r.weight, 0);
  for (let step = 0; step < steps; step++) {
    const g = new Array<number>(d).fill(0);
    for (const r of rows) {
      const e = (sigmoid(logit(r.f, w)) - r.y) * r.weight;
      for (let j = 0; j < d; j++) g[j] += e * r.f[j];
    }
    for (let j = 0; j < d; j++) w[j] -= lr * (g[j] / total + (j > 0 ? l2 * w[j] : 0));
  }
  return w;
}

/** top-1, any-of-k and false alarms of weights w at threshold t. */
function figures(cases: Case[], w: number[], t: number) {
  let pos = 0, neg = 0, top1 = 0, anyk = 0, alarms = 0;
  for (const c of cases) {
    const shown = c.rows.map((r) => ({ p: sigmoid(logit(r.f, w)), y: r.y })).filter((x) => x.p >= t).sort((a, b) => b.p - a.p).slice(0, k);
    if (c.positive) {
      pos++;
      if (shown[0]?.y) top1++;
      if (shown.some((x) => x.y)) anyk++;
    } else {
      neg++;
      if (shown.length) alarms++;
    }
  }
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  return { positives: pos, negatives: neg, top1_exact: r(top1 / Math.max(1, pos)), anyk_exact: r(anyk / Math.max(1, pos)), false_alarm_rate: r(alarms / Math.max(1, neg)) };
}

/** The lowest threshold whose false-alarm rate is at most the target. */
function chooseThreshold(cases: Case[], w: number[]): number {
  for (let t = 0.05; t < 1; t += 0.01) if (figures(cases, w, t).false_alarm_rate <= maxFalseAlarms) return Math.round(t * 100) / 100;
  return 0.99;
}

const sets = files.map((f) => ({ file: f, cases: load(f) }));
const heldOut = sets.map(({ file, cases }) => {
  const rest = sets.filter((s) => s.file !== file).flatMap((s) => s.cases);
  const w = fit(rest);
  const t = chooseThreshold(rest, w);
  return { file, threshold: t, ...figures(cases, w, t) };
});
const all = sets.flatMap((s) => s.cases);
const weights = fit(all);
const threshold = chooseThreshold(all, weights);
process.stdout.write(
  JSON.stringify({ held_out: heldOut, ceiling: figures(all, weights, 0), all: { threshold, ...figures(all, weights, threshold) }, threshold, weights: weights.map((x) => Math.round(x * 1000) / 1000), features: FEATURE_NAMES }, null, 2) + '\n',
);
