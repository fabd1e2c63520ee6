/**
 * `superdraft eval`: completion accuracy and latency on a JSONL case file: the rest of a line (default), whole blocks
 * (`--mode block`, evalBlock.ts) or next-edit drafts (`--task next-edit`, evalNextEdit.ts).
 */
import { writeFileSync } from 'node:fs';
import type { CompletionMode, StrategyName } from '../../protocol';
import { DEFAULTS, draftCount } from '../../protocol/defaults';
import { UsageError } from '../files';
import { draftFlags, engineOptions, intFlag, strategyFlag, type Flags } from '../flags';
import { editSimilarity, firstLineOf, round } from '../metrics';
import { BLOCK_REQUEST_MODE, BlockScores, checkBlockCases, checkLineCases } from './evalBlock';
import { CaseTally, readCases, type CaseScorer, type EvalCase } from './evalCases';
import { complete, loadEngine, out, progress, type Completer } from '../run';
import { RemoteSource, remoteFlags } from '../remote';

export async function cmdEval(flags: Flags): Promise<number> {
  const task = (flags.task as string | undefined) ?? 'line';
  if (task === 'next-edit') return (await import('./evalNextEdit')).cmdEvalNextEdit(flags);
  if (task !== 'line') throw new UsageError(`--task must be line or next-edit (got ${JSON.stringify(task)})`);
  const modeName = flags.mode === 'block' ? 'eval --mode block' : 'line completion';
  for (const f of ['threshold', 'model-rank']) if (flags[f] !== undefined) throw new UsageError(`--${f} is a next-edit flag (eval --task next-edit); ${modeName} does not take it`);
  const file = flags.cases as string | undefined;
  if (!file) throw new UsageError('eval needs --cases FILE.jsonl');
  const strategy = strategyFlag(flags, DEFAULTS.strategy);
  const limit = intFlag(flags, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const { k, maxTokens, mode } = draftFlags(flags, 'line');
  const timeBudgetMs = intFlag(flags, 'time-budget', 0, 600_000, 0);
  intFlag(flags, 'seed', -(2 ** 31), 2 ** 31 - 1, 1); // checked before the model loads; runCases reads it
  const remote = remoteFlags(flags);
  if (!remote) engineOptions(flags);
  const cases = readCases(file, limit);
  // --mode block scores whole blocks, asked for as the editor asks after Enter on a block opener (evalBlock.ts)
  const block = mode === 'block';
  if (block) checkBlockCases(cases, file);
  else checkLineCases(cases, file);
  const kk = draftCount(strategy, k);
  const scorer: CaseScorer = block ? new BlockScores(kk, maxTokens) : new Scores(kk);
  const engine = remote ? new RemoteSource(remote) : await loadEngine(flags, false);
  const request = { strategy, k, maxTokens, mode: block ? BLOCK_REQUEST_MODE : mode, timeBudgetMs };
  await runCases(engine, cases, request, scorer, flags);
  const result = {
    cases: cases.length,
    ...(block ? { mode: 'block', request_mode: BLOCK_REQUEST_MODE } : {}),
    strategy,
    k: kk,
    ...(timeBudgetMs > 0 ? { time_budget_ms: timeBudgetMs } : {}),
    ...(remote ? { backend: remote.backend, model: engine.info.model } : {}),
    ...scorer.result(),
  };
  if (flags.json) out(result);
  else process.stdout.write(`${cases.length} cases · ${strategy} k=${kk} · mode ${mode}${timeBudgetMs > 0 ? ` · time budget ${timeBudgetMs} ms` : ''}\n` + scorer.table());
  return 0;
}

interface RequestShape {
  strategy: StrategyName;
  k: number;
  maxTokens: number;
  mode: CompletionMode;
  timeBudgetMs: number;
}

/** Runs every case through the engine (case i with seed --seed + i), scoring and reporting progress as it goes. */
async function runCases(engine: Completer & { dispose(): Promise<void> }, cases: EvalCase[], r: RequestShape, scorer: CaseScorer, flags: Flags): Promise<void> {
  const seed0 = intFlag(flags, 'seed', -(2 ** 31), 2 ** 31 - 1, 1);
  const detailsFile = flags.details as string | undefined;
  const details: string[] = [];
  const isTTY = process.stderr.isTTY;
  try {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      const { res, wallMs } = await complete(engine, {
        prefix: c.prefix,
        suffix: c.suffix,
        languageId: c.language,
        path: c.path,
        strategy: r.strategy,
        k: r.k,
        maxTokens: r.maxTokens,
        mode: r.mode,
        speculative: flags['no-speculative'] !== true,
        ...(flags['no-copy'] === true ? { copyDrafts: false } : {}),
        ...(r.timeBudgetMs > 0 ? { timeBudgetMs: r.timeBudgetMs } : {}),
        seed: seed0 + i,
      });
      const { detail, progress: figures } = scorer.add(res.drafts, c, wallMs);
      if (detailsFile) details.push(JSON.stringify({ id: c.id, expected: c.expected, drafts: res.drafts.map((d) => d.text), ...detail, latency_ms: round(wallMs, 1) }));
      if (!flags.json || isTTY || (i + 1) % 10 === 0 || i + 1 === cases.length) {
        const line = `eval ${i + 1}/${cases.length}  ${figures}  ${wallMs.toFixed(0)} ms`;
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
}

/** Line mode: each draft's first line (trailing whitespace trimmed) against the expected rest of the line. */
class Scores extends CaseTally implements CaseScorer {
  top1 = 0;
  anyk = 0;
  top1Sim = 0;
  bestSim = 0;

  add(drafts: readonly { text: string }[], c: EvalCase, wallMs: number) {
    this.count(drafts, wallMs);
    const expected = c.expected.trimEnd();
    const firsts = drafts.map((d) => firstLineOf(d.text));
    const top = firsts[0] ?? '';
    if (firsts.length > 0 && top === expected) this.top1++;
    if (firsts.some((f) => f === expected)) this.anyk++;
    const sims = firsts.map((f) => editSimilarity(f, expected));
    this.top1Sim += sims[0] ?? editSimilarity('', expected);
    this.bestSim += sims.length ? Math.max(...sims) : editSimilarity('', expected);
    const n = this.n;
    return {
      detail: { first_lines: firsts, top1_exact: firsts.length > 0 && top === expected },
      progress: `top1 ${(this.top1 / n).toFixed(3)}  any-k ${(this.anyk / n).toFixed(3)}`,
    };
  }

  /** The figures `eval --json` prints after its case count, strategy and k. */
  result() {
    const n = this.n;
    return {
      top1_exact: round(this.top1 / n, 4),
      anyk_exact: round(this.anyk / n, 4),
      top1_edit_sim: round(this.top1Sim / n, 4),
      best_edit_sim: round(this.bestSim / n, 4),
      ...this.timing(),
    };
  }

  table(): string {
    const r = this.result();
    return (
      `  top-1 exact      ${r.top1_exact}\n  any-of-k exact   ${r.anyk_exact}\n` +
      `  top-1 edit sim   ${r.top1_edit_sim}\n  best edit sim    ${r.best_edit_sim}\n` +
      this.timingTable()
    );
  }
}
