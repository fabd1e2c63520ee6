/**
 * `superdraft eval --task next-edit`: next-edit drafts on a JSONL case file ({id, language, path, text, cursor, edit,
 * expected}; `expected` empty for a negative case). A proposed edit is right when applying it to `text` gives the same
 * document as applying one of the expected edits. Prints cases, positives, negatives, top1_exact, anyk_exact (over
 * positive cases), false_alarm_rate (negative cases where anything was proposed), latency_ms_p50/p95 per case, and the
 * naive rule's figures on the same cases (baseline.*).
 */
import { readFileSync } from 'node:fs';
import { naiveNextEdits, proposeNextEdits, sameResult, type NextEdit, type UserEdit } from '../../engine/nextEdit/nextEdit';
import { BOUNDS, DEFAULTS } from '../../protocol/defaults';
import { UsageError } from '../files';
import { intFlag, numFlag, type Flags } from '../flags';
import { percentile, round } from '../metrics';
import { loadEngine, out, progress } from '../run';
import { proposeWithModel } from '../../engine/nextEdit/modelRank';

export interface NextEditCase {
  id: string;
  language: string;
  path: string;
  text: string;
  cursor: number;
  edit: UserEdit;
  expected: NextEdit[];
}

/** Flags of line-completion eval that mean nothing for next edits: refused rather than silently ignored. */
const LINE_ONLY = ['strategy', 'max-tokens', 'mode', 'no-speculative', 'seed', 'no-copy', 'backend', 'endpoint', 'remote-model', 'remote-fim', 'verify-tokens', 'no-verify', 'details'];
/** Flags that choose the local model: meaningful with --model-rank only. */
const MODEL_ONLY = ['model', 'variant', 'device', 'threads'];

const isEdit = (e: unknown, withOld: boolean): boolean => {
  const o = e as Record<string, unknown>;
  return (
    typeof o === 'object' && o !== null && Number.isInteger(o.offset) && (o.offset as number) >= 0 && Number.isInteger(o.delete) && (o.delete as number) >= 0 &&
    typeof o.insert === 'string' && (!withOld || typeof o.old === 'string')
  );
};

export function readNextEditCases(file: string, limit?: number): NextEditCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read case file ${file}: ${(e as Error).message}`);
  }
  const cases: NextEditCase[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && (limit === undefined || cases.length < limit); i++) {
    if (!lines[i].trim()) continue;
    const where = `${file}:${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(lines[i]);
    } catch (e) {
      throw new UsageError(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof o !== 'object' || o === null || typeof o.text !== 'string') throw new UsageError(`${where}: a case needs "text" (a string)`);
    if (!isEdit(o.edit, true)) throw new UsageError(`${where}: "edit" must be {offset, delete, insert, old}`);
    if (!Array.isArray(o.expected) || !o.expected.every((e) => isEdit(e, false))) throw new UsageError(`${where}: "expected" must be a list of {offset, delete, insert}`);
    cases.push({
      id: typeof o.id === 'string' ? o.id : where,
      language: typeof o.language === 'string' ? o.language : 'plaintext',
      path: typeof o.path === 'string' ? o.path : '',
      text: o.text,
      cursor: typeof o.cursor === 'number' ? o.cursor : (o.edit as UserEdit).offset + (o.edit as UserEdit).insert.length,
      edit: o.edit as UserEdit,
      expected: o.expected as NextEdit[],
    });
  }
  if (cases.length === 0) throw new UsageError(`case file ${file} has no cases`);
  return cases;
}

/** Counts over cases: top-1 and any-of-k on positives, anything proposed on negatives. */
export class NextEditScores {
  positives = 0;
  negatives = 0;
  top1 = 0;
  anyk = 0;
  alarms = 0;
  readonly latency: number[] = [];

  add(c: NextEditCase, proposed: readonly NextEdit[], ms?: number): { top1: boolean; anyk: boolean } {
    if (ms !== undefined) this.latency.push(ms);
    const right = (p: NextEdit) => c.expected.some((e) => sameResult(c.text, p, e));
    if (c.expected.length === 0) {
      this.negatives++;
      if (proposed.length > 0) this.alarms++;
      return { top1: false, anyk: false };
    }
    this.positives++;
    const top1 = proposed.length > 0 && right(proposed[0]);
    const anyk = proposed.some(right);
    if (top1) this.top1++;
    if (anyk) this.anyk++;
    return { top1, anyk };
  }

  result() {
    return {
      top1_exact: round(this.top1 / Math.max(1, this.positives), 4),
      anyk_exact: round(this.anyk / Math.max(1, this.positives), 4),
      false_alarm_rate: round(this.alarms / Math.max(1, this.negatives), 4),
      ...(this.latency.length ? { latency_ms_p50: round(percentile(this.latency, 0.5), 2), latency_ms_p95: round(percentile(this.latency, 0.95), 2) } : {}),
    };
  }
}

export async function cmdEvalNextEdit(flags: Flags): Promise<number> {
  for (const f of LINE_ONLY) if (flags[f] !== undefined) throw new UsageError(`--${f} is a line-completion flag; eval --task next-edit does not take it`);
  const file = flags.cases as string | undefined;
  if (!file) throw new UsageError('eval needs --cases FILE.jsonl');
  const k = intFlag(flags, 'k', BOUNDS.k.min, BOUNDS.k.max, DEFAULTS.drafts);
  const withModel = flags['model-rank'] === true;
  if (!withModel) for (const f of MODEL_ONLY) if (flags[f] !== undefined) throw new UsageError(`--${f} chooses the model, which only --model-rank uses`);
  const threshold = numFlag(flags, 'threshold', 0, 1) ?? (withModel ? DEFAULTS.nextEditModelThreshold : DEFAULTS.nextEditThreshold);
  const limit = intFlag(flags, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const cases = readNextEditCases(file, limit);
  const scores = new NextEditScores();
  const baseline = new NextEditScores();
  const engine = withModel ? await loadEngine(flags, flags.json === true) : null;
  try {
    for (const c of cases) {
      const req = { text: c.text, edit: c.edit, languageId: c.language, k, threshold };
      const t0 = performance.now();
      const drafts = engine ? await proposeWithModel(req, (items) => engine.scoreTexts(items)) : proposeNextEdits(req);
      scores.add(c, drafts, performance.now() - t0);
      baseline.add(c, naiveNextEdits(c.text, c.edit, k));
    }
  } finally {
    await engine?.dispose();
  }
  const base = baseline.result();
  const result = {
    task: 'next-edit',
    cases: cases.length,
    positives: scores.positives,
    negatives: scores.negatives,
    k,
    threshold,
    ranking: withModel ? 'heuristic+model' : 'heuristic',
    ...(engine ? { model: engine.info.model } : {}),
    ...scores.result(),
    baseline: { rule: 'nearest other occurrences of the replaced text', top1_exact: base.top1_exact, anyk_exact: base.anyk_exact, false_alarm_rate: base.false_alarm_rate },
  };
  if (flags.json) out(result);
  else {
    progress(`${cases.length} cases (${scores.positives} positive, ${scores.negatives} negative) · k=${k}`);
    process.stdout.write(
      `  top-1 exact       ${result.top1_exact}   (baseline ${base.top1_exact})\n  any-of-k exact    ${result.anyk_exact}   (baseline ${base.anyk_exact})\n` +
        `  false alarms      ${result.false_alarm_rate}   (baseline ${base.false_alarm_rate})\n  latency p50/p95   ${result.latency_ms_p50} / ${result.latency_ms_p95} ms\n`,
    );
  }
  return 0;
}
