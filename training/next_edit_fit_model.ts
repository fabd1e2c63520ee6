/**
 * Calibration of the model's part of the next-edit ranking (src/engine/nextEdit/weights.ts NEXT_EDIT_MODEL_WEIGHTS and
 * DEFAULTS.nextEditModelThreshold): a logistic regression of "this site is one of the expected next edits" on the
 * heuristic log-odds and the model's log-likelihood gain of the changed line (modelRank.ts), over cases made from
 * other histories (training/next_edit_cases.ts), never the shared dev set; the threshold is the lowest whose false-alarm
 * rate on those negative cases is at most --max-false-alarms (default 0.06).
 *
 *   npx tsx training/next_edit_fit_model.ts CASES.jsonl [...] [--per-file N] [--model DIR] > fit.json
 */
import { readFileSync } from 'node:fs';
import { Engine } from '../src/engine/engine';
import { modelFeatures } from '../src/engine/nextEdit/modelRank';
import { sameResult, sigmoid } from '../src/engine/nextEdit/nextEdit';
import { DEFAULTS } from '../src/protocol/defaults';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const files = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && args[i - 1].startsWith('-')));
const perFile = Number(opt('--per-file', '250'));
const maxFalseAlarms = Number(opt('--max-false-alarms', '0.06'));
const k = 3;

interface Row { x: number[]; y: number }
interface Case { rows: Row[]; positive: boolean }

async function main(): Promise<void> {
  const engine = await Engine.load({ modelDir: opt('--model', '') || undefined });
  const cases: Case[] = [];
  for (const file of files) {
    const perCommit = new Map<string, number>();
    let n = 0;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim() || n >= perFile) continue;
      const c = JSON.parse(line);
      const commit = `${c.id.split(':')[1]}:${c.expected.length > 0}`;
      if ((perCommit.get(commit) ?? 0) >= 2) continue;
      perCommit.set(commit, (perCommit.get(commit) ?? 0) + 1);
      n++;
      const feats = await modelFeatures({ text: c.text, edit: c.edit }, (items) => engine.scoreTexts(items));
      cases.push({ positive: c.expected.length > 0, rows: feats.map((f) => ({ x: [f.z, f.gain, 1], y: c.expected.some((e: never) => sameResult(c.text, f.s.edit, e)) ? 1 : 0 })) });
    }
    process.stderr.write(`${file}: ${n} cases\n`);
  }
  await engine.dispose();
  const w = [1, 0, 0];
  const rows = cases.flatMap((c) => c.rows);
  for (let step = 0; step < 20000; step++) {
    const g = [0, 0, 0];
    for (const r of rows) {
      const e = sigmoid(w[0] * r.x[0] + w[1] * r.x[1] + w[2]) - r.y;
      for (let j = 0; j < 3; j++) g[j] += e * r.x[j];
    }
    for (let j = 0; j < 3; j++) w[j] -= (0.02 * g[j]) / rows.length;
  }
  const figures = (weights: number[], t: number) => {
    let pos = 0, neg = 0, top1 = 0, anyk = 0, alarms = 0;
    for (const c of cases) {
      const shown = c.rows.map((r) => ({ p: sigmoid(weights[0] * r.x[0] + weights[1] * r.x[1] + weights[2]), y: r.y })).filter((x) => x.p >= t).sort((a, b) => b.p - a.p).slice(0, k);
      if (c.positive) {
        pos++;
        if (shown[0]?.y) top1++;
        if (shown.some((x) => x.y)) anyk++;
      } else {
        neg++;
        if (shown.length) alarms++;
      }
    }
    return { positives: pos, negatives: neg, top1_exact: top1 / Math.max(1, pos), anyk_exact: anyk / Math.max(1, pos), false_alarm_rate: alarms / Math.max(1, neg) };
  };
  let threshold = 0.99;
  for (let t = 0.05; t < 1; t += 0.01) if (figures(w, t).false_alarm_rate <= maxFalseAlarms) { threshold = Math.round(t * 100) / 100; break; }
  process.stdout.write(JSON.stringify({ weights: w.map((x) => Math.round(x * 1000) / 1000), threshold, fitted: figures(w, threshold), heuristic_only: figures([1, 0, 0], DEFAULTS.nextEditThreshold) }, null, 2) + '\n');
}

void main();
