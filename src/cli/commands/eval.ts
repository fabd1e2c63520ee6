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
  const lat: number[] = [];
  let top1 = 0;
  let anyk = 0;
  let top1Sim = 0;
  let bestSim = 0;
  let draftsTotal = 0;
  let fewerThanK = 0;
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
      lat.push(wallMs);
      const expected = c.expected.trimEnd();
      const firsts = res.drafts.map((d) => firstLineOf(d.text));
      const top = firsts[0] ?? '';
      draftsTotal += res.drafts.length;
      if (res.drafts.length < draftCount(strategy, k)) fewerThanK++;
      if (firsts.length > 0 && top === expected) top1++;
      if (firsts.some((f) => f === expected)) anyk++;
      const sims = firsts.map((f) => editSimilarity(f, expected));
      top1Sim += sims[0] ?? editSimilarity('', expected);
      bestSim += sims.length ? Math.max(...sims) : editSimilarity('', expected);
      if (detailsFile) {
        details.push(JSON.stringify({ id: c.id, expected: c.expected, drafts: res.drafts.map((d) => d.text), first_lines: firsts, latency_ms: round(wallMs, 1), top1_exact: top === expected }));
      }
      if (!flags.json || isTTY || (i + 1) % 10 === 0 || i + 1 === cases.length) {
        const line = `eval ${i + 1}/${cases.length}  top1 ${(top1 / (i + 1)).toFixed(3)}  any-k ${(anyk / (i + 1)).toFixed(3)}  ${wallMs.toFixed(0)} ms`;
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
  const result = {
    cases: n,
    strategy,
    k: draftCount(strategy, k),
    ...(remote ? { backend: remote.backend, model: engine.info.model } : {}),
    top1_exact: round(top1 / n, 4),
    anyk_exact: round(anyk / n, 4),
    top1_edit_sim: round(top1Sim / n, 4),
    best_edit_sim: round(bestSim / n, 4),
    latency_ms_p50: round(percentile(lat, 0.5), 1),
    latency_ms_p95: round(percentile(lat, 0.95), 1),
    drafts_per_case: round(draftsTotal / n, 3),
    fewer_than_k: fewerThanK,
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
