/** `superdraft eval`: line-completion accuracy and latency on a JSONL case file. */
import { readFileSync, writeFileSync } from 'node:fs';
import { DEFAULTS, draftCount } from '../../protocol/defaults';
import { UsageError } from '../files';
import { draftFlags, engineOptions, intFlag, strategyFlag, type Flags } from '../flags';
import { editSimilarity, firstLineOf, percentile, round } from '../metrics';
import { complete, loadEngine, out, progress } from '../run';
import { RemoteSource, remoteFlags } from '../remote';

/** A line-completion case: `expected` is the rest of the cursor's line. */
export interface EvalCase {
  id: string;
  language: string;
  path: string;
  prefix: string;
  suffix: string;
  expected: string;
}

export function readCases(file: string, limit?: number): EvalCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `case file ${file} does not exist` : `cannot read case file ${file}: ${(e as Error).message}`);
  }
  const cases: EvalCase[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (limit !== undefined && cases.length >= limit) break;
    const l = lines[i].trim();
    if (!l) continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(l);
    } catch (e) {
      throw new UsageError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UsageError(`${file}:${i + 1}: a case must be a JSON object`);
    for (const k of ['prefix', 'expected'] as const) {
      if (typeof obj[k] !== 'string') throw new UsageError(`${file}:${i + 1}: "${k}" must be a string`);
    }
    for (const k of ['suffix', 'id', 'language', 'path'] as const) {
      if (obj[k] !== undefined && typeof obj[k] !== 'string') throw new UsageError(`${file}:${i + 1}: "${k}" must be a string`);
    }
    cases.push({
      id: (obj.id as string | undefined) ?? `${file}:${i + 1}`,
      language: (obj.language as string | undefined) ?? 'plaintext',
      path: (obj.path as string | undefined) ?? '',
      prefix: obj.prefix as string,
      suffix: (obj.suffix as string | undefined) ?? '',
      expected: obj.expected as string,
    });
  }
  if (cases.length === 0) throw new UsageError(`case file ${file} has no cases`);
  return cases;
}

export async function cmdEval(flags: Flags): Promise<number> {
  const task = (flags.task as string | undefined) ?? 'line';
  if (task === 'next-edit') return (await import('./evalNextEdit')).cmdEvalNextEdit(flags);
  if (task !== 'line') throw new UsageError(`--task must be line or next-edit (got ${JSON.stringify(task)})`);
  for (const f of ['threshold', 'model-rank']) if (flags[f] !== undefined) throw new UsageError(`--${f} is a next-edit flag (eval --task next-edit)`);
  const file = flags.cases as string | undefined;
  if (!file) throw new UsageError('eval needs --cases FILE.jsonl');
  const strategy = strategyFlag(flags, DEFAULTS.strategy);
  const limit = intFlag(flags, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const { k, maxTokens, mode } = draftFlags(flags, 'line');
  const seed0 = intFlag(flags, 'seed', -(2 ** 31), 2 ** 31 - 1, 1);
  const remote = remoteFlags(flags);
  if (!remote) engineOptions(flags);
  const cases = readCases(file, limit);
  const detailsFile = flags.details as string | undefined;
  const details: string[] = [];
  const engine = remote ? new RemoteSource(remote) : await loadEngine(flags, false);
  const scores = new Scores(draftCount(strategy, k));
  const isTTY = process.stderr.isTTY;
  try {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      const { res, wallMs } = await complete(engine, {
        prefix: c.prefix,
        suffix: c.suffix,
        languageId: c.language,
        path: c.path,
        strategy,
        k,
        maxTokens,
        mode,
        speculative: flags['no-speculative'] !== true,
        ...(flags['no-copy'] === true ? { copyDrafts: false } : {}),
        seed: seed0 + i,
      });
      const { firsts, top1 } = scores.add(res.drafts, c.expected, wallMs);
      if (detailsFile) {
        details.push(JSON.stringify({ id: c.id, expected: c.expected, drafts: res.drafts.map((d) => d.text), first_lines: firsts, latency_ms: round(wallMs, 1), top1_exact: top1 }));
      }
      if (!flags.json || isTTY || (i + 1) % 10 === 0 || i + 1 === cases.length) {
        const line = `eval ${i + 1}/${cases.length}  top1 ${(scores.top1 / (i + 1)).toFixed(3)}  any-k ${(scores.anyk / (i + 1)).toFixed(3)}  ${wallMs.toFixed(0)} ms`;
        if (isTTY) process.stderr.write(`\r${line}${i + 1 === cases.length ? '\n' : ''}`);
        else progress(line);
      }
    }
  } finally {
    await engine.dispose();
    if (detailsFile) {
      try {
        writeFileSync(detailsFile, details.join('\n') + (details.length ? '\n' : ''));
      } catch (e) {
        progress(`cannot write ${detailsFile}: ${(e as Error).message}`);
      }
    }
  }
  const n = cases.length;
  const { draftsTotal, fewerThanK } = scores;
  const result = {
    cases: n,
    strategy,
    k: draftCount(strategy, k),
    ...(remote ? { backend: remote.backend, model: engine.info.model } : {}),
    ...scores.result(),
  };
  if (flags.json) out(result);
  else {
    process.stdout.write(
      `${n} cases · ${strategy} k=${result.k} · mode ${mode}\n` +
        `  top-1 exact      ${result.top1_exact}\n  any-of-k exact   ${result.anyk_exact}\n` +
        `  top-1 edit sim   ${result.top1_edit_sim}\n  best edit sim    ${result.best_edit_sim}\n` +
        `  latency p50/p95  ${result.latency_ms_p50} / ${result.latency_ms_p95} ms\n  drafts per case  ${(draftsTotal / n).toFixed(2)} (fewer than k: ${fewerThanK})\n`,
    );
  }
  return 0;
}

/** The dev-set figures over the cases scored so far: exact first lines, edit similarity, latency, drafts per case. */
class Scores {
  top1 = 0;
  anyk = 0;
  top1Sim = 0;
  bestSim = 0;
  draftsTotal = 0;
  fewerThanK = 0;
  private readonly lat: number[] = [];

  constructor(private readonly k: number) {}

  /** Scores one case's drafts against its expected line. */
  add(drafts: readonly { text: string }[], expectedLine: string, wallMs: number): { firsts: string[]; top1: boolean } {
    this.lat.push(wallMs);
    const expected = expectedLine.trimEnd();
    const firsts = drafts.map((d) => firstLineOf(d.text));
    const top = firsts[0] ?? '';
    this.draftsTotal += drafts.length;
    if (drafts.length < this.k) this.fewerThanK++;
    if (firsts.length > 0 && top === expected) this.top1++;
    if (firsts.some((f) => f === expected)) this.anyk++;
    const sims = firsts.map((f) => editSimilarity(f, expected));
    this.top1Sim += sims[0] ?? editSimilarity('', expected);
    this.bestSim += sims.length ? Math.max(...sims) : editSimilarity('', expected);
    return { firsts, top1: top === expected };
  }

  /** The figures `eval --json` prints after its case count, strategy and k. */
  result() {
    const n = this.lat.length;
    return {
      top1_exact: round(this.top1 / n, 4),
      anyk_exact: round(this.anyk / n, 4),
      top1_edit_sim: round(this.top1Sim / n, 4),
      best_edit_sim: round(this.bestSim / n, 4),
      latency_ms_p50: round(percentile(this.lat, 0.5), 1),
      latency_ms_p95: round(percentile(this.lat, 0.95), 1),
      drafts_per_case: round(this.draftsTotal / n, 3),
      fewer_than_k: this.fewerThanK,
    };
  }
}
