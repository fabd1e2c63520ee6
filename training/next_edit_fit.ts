/**
 * Calibration of next-edit drafts (src/engine/nextEdit/weights.ts and DEFAULTS.nextEditThreshold), over cases made
 * from other histories (training/next_edit_cases.ts), never the shared dev set. Two logistic regressions (Newton's
 * method, L2): the per-site ranking ("this site is one of the expected next edits", fitted on positive cases' sites,
 * each case weighing the same whatever its number of sites) and the per-edit gate (gate.ts: "one of this edit's
 * sites is wanted", on every case, the ranking's log-odds among its features). Reports, per case file, the figures of
 * both fitted on the other files (leave one history out), then fits on all files and picks the threshold: the lowest
 * gate probability whose false-alarm rate on the negative cases is at most --max-false-alarms (default 0.06).
 *
 *   npx tsx training/next_edit_fit.ts CASES.jsonl [CASES2.jsonl ...] [--max-false-alarms 0.06] [-k 3] > fit.json
 */
import { readFileSync } from 'node:fs';
import { FEATURE_NAMES } from '../src/engine/nextEdit/features';
import { gateFeatures, GATE_FEATURE_NAMES } from '../src/engine/nextEdit/gate';
import { analyseEdit, gateSites, logit, sameResult, sigmoid, type EditAnalysis } from '../src/engine/nextEdit/nextEdit';

interface Case { text: string; a: EditAnalysis | null; y: number[]; positive: boolean }

const args = process.argv.slice(2);
const files = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && args[i - 1].startsWith('-')));
const optNum = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const maxFalseAlarms = optNum('--max-false-alarms', 0.06);
const k = optNum('-k', 3);
const L2 = optNum('--l2', 0.3);

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
    const a = analyseEdit(c.text, c.edit);
    const y = (a?.sites ?? []).map((s) => (c.expected.some((e: never) => sameResult(c.text, s.edit, e)) ? 1 : 0));
    out.push({ text: c.text, a, y, positive: c.expected.length > 0 });
  }
  return out;
}

/** Weighted L2-regularised logistic regression by Newton's method (the bias unregularised). */
function fitLogistic(X: number[][], y: number[], wt: number[], l2: number): number[] {
  const d = X[0].length;
  let w = new Array<number>(d).fill(0);
  for (let it = 0; it < 30; it++) {
    const g = new Array<number>(d).fill(0);
    const H = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let n = 0; n < X.length; n++) {
      const p = sigmoid(logit(X[n], w));
      const e = (p - y[n]) * wt[n];
      const v = p * (1 - p) * wt[n];
      for (let i = 0; i < d; i++) {
        g[i] += e * X[n][i];
        for (let j = 0; j < d; j++) H[i][j] += v * X[n][i] * X[n][j];
      }
    }
    for (let i = 0; i < d; i++) H[i][i] += i > 0 ? l2 : 1e-6;
    for (let i = 1; i < d; i++) g[i] += l2 * w[i];
    const A = H.map((r, i) => [...r, g[i]]);
    for (let i = 0; i < d; i++) {
      let p = i;
      for (let r = i + 1; r < d; r++) if (Math.abs(A[r][i]) > Math.abs(A[p][i])) p = r;
      [A[i], A[p]] = [A[p], A[i]];
      for (let r = 0; r < d; r++) if (r !== i) {
        const f = A[r][i] / A[i][i];
        for (let c = i; c <= d; c++) A[r][c] -= f * A[i][c];
      }
    }
    const dx = A.map((r, i) => r[d] / r[i]);
    w = w.map((x, i) => x - dx[i]);
    if (Math.max(...dx.map(Math.abs)) < 1e-7) break;
  }
  return w;
}

interface Model { ranker: number[]; gate: number[] }

/** Each case's sites ranked by `ranker` and its gate features. */
function ranked(c: Case, ranker: number[]) {
  const r = (c.a?.sites ?? []).map((s, i) => ({ s, z: logit(s.features, ranker), y: c.y[i] })).sort((a, b) => b.z - a.z);
  return { r, g: c.a ? gateFeatures(c.text, c.a.ctx, c.a.ef, gateSites(r)) : null };
}

function fit(cases: Case[]): Model {
  const X: number[][] = [], y: number[] = [], wt: number[] = [];
  for (const c of cases) if (c.positive && c.a) c.a.sites.forEach((s, i) => { X.push(s.features); y.push(c.y[i]); wt.push(1 / Math.sqrt(c.a!.sites.length)); });
  const ranker = fitLogistic(X, y, wt, L2);
  const G: number[][] = [], gy: number[] = [];
  for (const c of cases) {
    const { g } = ranked(c, ranker);
    if (g) { G.push(g); gy.push(c.positive && c.y.some((v) => v) ? 1 : 0); }
  }
  return { ranker, gate: fitLogistic(G, gy, gy.map(() => 1), L2) };
}

/** Per case: the gate's probability (0 without sites) and whether its top-1 / any of k sites is right. */
function outcomes(cases: Case[], m: Model) {
  return cases.map((c) => {
    const { r, g } = ranked(c, m.ranker);
    return { positive: c.positive, p: g ? sigmoid(logit(g, m.gate)) : 0, top1: r[0]?.y === 1, anyk: r.slice(0, k).some((x) => x.y === 1), anySite: r.some((x) => x.y === 1) };
  });
}

function figures(o: ReturnType<typeof outcomes>, t: number) {
  const pos = o.filter((x) => x.positive), neg = o.filter((x) => !x.positive);
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  const on = (x: { p: number }) => x.p > 0 && x.p >= t;
  return {
    positives: pos.length,
    negatives: neg.length,
    top1_exact: r(pos.filter((x) => on(x) && x.top1).length / Math.max(1, pos.length)),
    anyk_exact: r(pos.filter((x) => on(x) && x.anyk).length / Math.max(1, pos.length)),
    false_alarm_rate: r(neg.filter(on).length / Math.max(1, neg.length)),
    /** Positives shown with a right site anywhere among their ranked sites (what a perfect ranking would reach). */
    any_site: r(pos.filter((x) => on(x) && x.anySite).length / Math.max(1, pos.length)),
  };
}

/** The lowest threshold whose false-alarm rate is at most the target. */
function chooseThreshold(o: ReturnType<typeof outcomes>): number {
  for (let t = 0.02; t < 1; t += 0.01) if (figures(o, t).false_alarm_rate <= maxFalseAlarms) return Math.round(t * 100) / 100;
  return 0.99;
}

const sets = files.map((f) => ({ file: f, cases: load(f) }));
/** Every history's cases scored by the models fitted without it (the held-out trade-off curve pools them). */
const heldOutScored: ReturnType<typeof outcomes> = [];
const heldOut = sets.map(({ file, cases }) => {
  const m = fit(sets.filter((s) => s.file !== file).flatMap((s) => s.cases));
  const t = chooseThreshold(outcomes(sets.filter((s) => s.file !== file).flatMap((s) => s.cases), m));
  const o = outcomes(cases, m);
  heldOutScored.push(...o);
  return { file, threshold: t, ...figures(o, t) };
});
/** Held-out top-1 / any-of-k / false alarms at a range of gate thresholds (what a stricter or looser cut buys). */
const heldOutCurve = [0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95].map((t) => ({ threshold: t, ...figures(heldOutScored, t) }));
const pooled = (key: 'top1_exact' | 'anyk_exact' | 'false_alarm_rate', n: 'positives' | 'negatives') =>
  Math.round((heldOut.reduce((s, h) => s + h[key] * h[n], 0) / heldOut.reduce((s, h) => s + h[n], 0)) * 1e4) / 1e4;
const all = sets.flatMap((s) => s.cases);
const model = fit(all);
const o = outcomes(all, model);
const threshold = chooseThreshold(o);
const round = (w: number[]) => w.map((x) => Math.round(x * 1000) / 1000);
process.stdout.write(
  JSON.stringify(
    {
      held_out: heldOut,
      held_out_pooled: { top1_exact: pooled('top1_exact', 'positives'), anyk_exact: pooled('anyk_exact', 'positives'), false_alarm_rate: pooled('false_alarm_rate', 'negatives') },
      held_out_curve: heldOutCurve,
      ceiling: figures(o, 0),
      all: { threshold, ...figures(o, threshold) },
      threshold,
      weights: round(model.ranker),
      gate_weights: round(model.gate),
      features: FEATURE_NAMES,
      gate_features: GATE_FEATURE_NAMES,
    },
    null,
    2,
  ) + '\n',
);
