/**
 * The `superdraft` command: complete, bench, eval, demo. Uses the Engine facade only.
 * `--json` prints exactly one JSON object on stdout; progress and logs go to stderr.
 * Exit codes: 0 ok, 1 runtime error (model load, inference, I/O), 2 usage error (bad flags or input), 130 interrupted.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readModelConfig } from '../engine/config';
import { Engine, EngineError, defaultModelDir, type EngineOptions } from '../engine/engine';
import { ModelRuntime } from '../engine/runtime';
import type { CompletionMode, CompletionRequest, CompletionResponse, DeviceName, StrategyName } from '../protocol';
import { DEVICES, STRATEGIES } from '../protocol';
import { fitRequest } from '../extension/context';
import { UsageError, languageOf, readTextFile, splitAt } from './files';
import { editSimilarity, firstLineOf, percentile, round } from './metrics';

// ---------------------------------------------------------------------------------------------------------------
// Errors and output

const VERSION = '0.1.0';

function out(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
}

function progress(msg: string): void {
  process.stderr.write(msg + '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Help

const HELP: Record<string, string> = {
  main: `superdraft ${VERSION} — multi-draft local code completion (command line)

Usage: superdraft <command> [options]

Commands:
  complete   drafts for a cursor position in a file
  eval       line-completion accuracy and latency on a JSONL case file
  bench      latency, throughput and memory of every strategy on the bundled prompt set
  demo       each strategy's drafts and timing for the bundled example file
  model      prepare DIR | info DIR [--json]: ready a Hugging Face model for every strategy; describe it

Common options:
  --model DIR      model directory (default: the embedded model, models/default)
  --device D       auto | cpu | cuda | dml | coreml | webgpu (default auto)
  --threads N      inference threads (default: onnxruntime's choice)
  --no-verify      superposed: skip the verification pass (rank drafts by their search score)
  --no-copy        no drafts copied from the code (continuations of earlier matches in the file), model drafts only
  --json           print exactly one JSON object on stdout (progress stays on stderr)
  --verbose        engine logs on stderr
  -h, --help       help for a command: superdraft <command> --help

Exit codes: 0 success, 1 runtime error, 2 usage error, 130 interrupted.`,
  complete: `Usage: superdraft complete --file F --line L --column C [options]

Completion drafts at a cursor position. Line and column are 1-based; the column counts UTF-16 code units as
VS Code does (column 1 = line start, length+1 = end of line). Files must be text under 10 MB.

Options:
  --file F             source file (required)
  --line L             1-based line of the cursor (required)
  --column C           1-based column of the cursor (required)
  --strategy S         superposed | beam | sampling | greedy (default superposed)
  -k K                 number of drafts, 1..16 (default 3)
  --max-tokens N       1..1024 (default 48)
  --mode M             line | block | auto (default auto)
  --language ID        language id (default: from the file extension)
  --no-speculative     disable lossless speculative acceleration
  --temperature T      sampling temperature (default 0.8)
  --top-p P            nucleus top-p (default 0.95)
  --seed N             sampling seed
  --time-budget MS     latency budget: once spent, drafts end at their last complete line (default: none)
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command`,
  eval: `Usage: superdraft eval --cases FILE.jsonl [options]

Runs each case {id, language, path, prefix, suffix, expected} (expected = rest of the cursor's line) and prints
{cases, strategy, k, top1_exact, anyk_exact, top1_edit_sim, best_edit_sim, latency_ms_p50, latency_ms_p95}.
A draft's first line is compared after trimming trailing whitespace; edit similarity is 1 - Levenshtein / max length.

Options:
  --cases FILE         JSONL case file (required)
  --strategy S         superposed | beam | sampling | greedy (default superposed)
  -k K                 drafts per case, 1..16 (default 3)
  --limit N            first N cases only
  --max-tokens N       1..1024 (default 48)
  --mode M             line | block | auto (default line)
  --no-speculative     disable speculative acceleration
  --seed N             base sampling seed (case i uses N + i; default 1)
  --details FILE       also write one JSON line per case (id, expected, drafts, latency) to FILE
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command`,
  bench: `Usage: superdraft bench [options]

Times every strategy on the committed prompt set (bench/prompts: real code, half with repetition from the context)
with fixed-length drafts (32 tokens, stop rules off): latency median and p95, tokens/s, model load time, process RSS,
and the ratios superposed k=4 / greedy, 4 sequential nucleus runs / superposed k=4, batched nucleus k=4 /
superposed k=4, speculative speed-up over greedy (tokens/s) with the count of identical outputs, and a request
after typing one more character / a cold request (KV cache reuse); and, for a model with present_delta.* outputs,
one decoding step with the append-only KV store and without it at 100, 400 and 800 context tokens.

Options:
  --prompts DIR        prompt set directory (default: the bundled bench/prompts)
  --repeat N           timed runs per prompt and strategy (default 2)
  --max-tokens N       draft length (default 32)
  --limit N            first N prompts only
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command`,
  demo: `Usage: superdraft demo [options]

Loads the model (default: the embedded one) and prints each strategy's drafts and timing for the bundled example
file (examples/demo.ts).

Options:
  --file F             another example file; the cursor is at the marker <|cursor|> (removed before completing)
  -k K                 drafts for the multi-draft strategies (default 3)
  --max-tokens N       1..1024 (default 48)
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command`,
};

// ---------------------------------------------------------------------------------------------------------------
// Argument parsing

type Flags = Record<string, string | boolean | undefined>;

const COMMON = {
  model: { type: 'string' },
  'no-verify': { type: 'boolean' },
  'no-copy': { type: 'boolean' },
  device: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMMAND_OPTIONS = {
  complete: {
    ...COMMON,
    file: { type: 'string' },
    line: { type: 'string' },
    column: { type: 'string' },
    strategy: { type: 'string' },
    k: { type: 'string', short: 'k' },
    'max-tokens': { type: 'string' },
    mode: { type: 'string' },
    language: { type: 'string' },
    'no-speculative': { type: 'boolean' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    'time-budget': { type: 'string' },
  },
  eval: {
    ...COMMON,
    cases: { type: 'string' },
    strategy: { type: 'string' },
    k: { type: 'string', short: 'k' },
    limit: { type: 'string' },
    'max-tokens': { type: 'string' },
    mode: { type: 'string' },
    'no-speculative': { type: 'boolean' },
    seed: { type: 'string' },
    details: { type: 'string' },
  },
  bench: {
    ...COMMON,
    prompts: { type: 'string' },
    repeat: { type: 'string' },
    'max-tokens': { type: 'string' },
    limit: { type: 'string' },
  },
  demo: {
    ...COMMON,
    file: { type: 'string' },
    k: { type: 'string', short: 'k' },
    'max-tokens': { type: 'string' },
  },
} as const;

type Command = keyof typeof COMMAND_OPTIONS;

function parse(cmd: Command, argv: string[]): Flags {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: COMMAND_OPTIONS[cmd], strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return values as Flags;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // node:util's messages are clear ("Unknown option '--x'", "Option '--k <value>' argument missing").
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/, ''));
  }
}

function intFlag(flags: Flags, name: string, min: number, max: number, def: number): number;
function intFlag(flags: Flags, name: string, min: number, max: number, def?: undefined): number | undefined;
function intFlag(flags: Flags, name: string, min: number, max: number, def?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const s = String(v).trim();
  const label = name.length === 1 ? `-${name}` : `--${name}`;
  if (!/^[+-]?\d+$/.test(s)) throw new UsageError(`${label} must be an integer in ${min}..${max} (got ${JSON.stringify(v)})`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${label} must be an integer in ${min}..${max} (got ${n})`);
  return n;
}

function numFlag(flags: Flags, name: string, min: number, max: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in ${min}..${max} (got ${JSON.stringify(v)})`);
  return n;
}

function strategyFlag(flags: Flags, def: StrategyName): StrategyName {
  const v = flags.strategy;
  if (v === undefined) return def;
  if (!STRATEGIES.includes(v as StrategyName)) throw new UsageError(`unknown strategy ${JSON.stringify(v)} (expected one of ${STRATEGIES.join(', ')})`);
  return v as StrategyName;
}

function modeFlag(flags: Flags, def: CompletionMode): CompletionMode {
  const v = flags.mode;
  if (v === undefined) return def;
  if (v !== 'line' && v !== 'block' && v !== 'auto') throw new UsageError(`unknown mode ${JSON.stringify(v)} (expected line, block or auto)`);
  return v;
}

function engineOptions(flags: Flags): EngineOptions {
  const device = (flags.device ?? 'auto') as DeviceName;
  if (!DEVICES.includes(device)) throw new UsageError(`unknown device ${JSON.stringify(flags.device)} (expected one of ${DEVICES.join(', ')})`);
  const threads = intFlag(flags, 'threads', 1, 256);
  const model = flags.model as string | undefined;
  if (model !== undefined) {
    if (!model) throw new UsageError('--model needs a directory');
    if (!existsSync(model)) throw new UsageError(`model directory ${model} does not exist`);
    if (!statSync(model).isDirectory()) throw new UsageError(`--model ${model} is not a directory`);
  }
  const verbose = flags.verbose === true;
  return {
    modelDir: model,
    device,
    threads,
    ...(flags['no-verify'] === true ? { superposed: { verify: false } } : {}),
    log: (level, message) => {
      if (verbose || level === 'error' || level === 'warn') process.stderr.write(`[${level}] ${message}\n`);
    },
  };
}

/** The package root (where models/, examples/ and bench/ live), found from this file, bundled or not. */
function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'examples'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
}

// ---------------------------------------------------------------------------------------------------------------
// Engine use

async function loadEngine(flags: Flags, quiet: boolean): Promise<Engine> {
  const opts = engineOptions(flags);
  if (!quiet) progress(`loading model ${opts.modelDir ?? defaultModelDir()} ...`);
  return Engine.load(opts);
}

let activeAbort: AbortController | null = null;

async function complete(engine: Engine, req: CompletionRequest): Promise<{ res: CompletionResponse; wallMs: number }> {
  const ac = new AbortController();
  activeAbort = ac;
  const t0 = performance.now();
  try {
    const res = await engine.complete(fitRequest(req), ac.signal);
    return { res, wallMs: performance.now() - t0 };
  } finally {
    activeAbort = null;
  }
}

function baseRequest(): Omit<CompletionRequest, 'prefix' | 'suffix' | 'languageId' | 'path'> {
  return { strategy: 'superposed', k: 3, maxTokens: 48, mode: 'auto', speculative: true };
}

function indent(text: string, pad: string): string {
  return text
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

function printDrafts(res: CompletionResponse, wallMs: number): void {
  if (res.drafts.length === 0) process.stdout.write('  (no draft)\n');
  res.drafts.forEach((d, i) => {
    const from = d.copiedFrom ? `  copied from ${d.copiedFrom.path || 'this file'}${d.copiedFrom.offset !== undefined ? ` (${Math.abs(d.copiedFrom.offset)} lines ${d.copiedFrom.offset < 0 ? 'up' : 'down'})` : d.copiedFrom.line !== undefined ? `:${d.copiedFrom.line}` : ''}` : '';
    process.stdout.write(`  #${i + 1}  score ${d.score.toFixed(3)}  ${d.tokens} tokens${from}\n`);
    process.stdout.write(indent(d.text.length ? d.text : '(empty)', '      │ ') + '\n');
  });
  const t = res.timing;
  process.stdout.write(
    `  time ${wallMs.toFixed(0)} ms (prefill ${t.prefillMs.toFixed(0)} ms: ${t.prefillTokens} tokens computed, ${t.reusedTokens} reused; ` +
      `${t.forwards} forwards${t.acceptedSpeculative ? `, ${t.acceptedSpeculative} tokens accepted from speculative units` : ''}` +
      `${t.budgetCuts ? `; time budget spent: ${t.budgetCuts} draft(s) ended at a line boundary` : ''})\n`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// complete

async function cmdComplete(flags: Flags): Promise<number> {
  const req: CompletionRequest = {
    ...baseRequest(),
    prefix: '',
    suffix: '',
    languageId: '',
    path: '',
    strategy: strategyFlag(flags, 'superposed'),
    k: intFlag(flags, 'k', 1, 16, 3),
    maxTokens: intFlag(flags, 'max-tokens', 1, 1024, 48),
    mode: modeFlag(flags, 'auto'),
    speculative: flags['no-speculative'] !== true,
    ...(flags['no-copy'] === true ? { copyDrafts: false } : {}),
  };
  const temperature = numFlag(flags, 'temperature', 0, 5);
  const topP = numFlag(flags, 'top-p', 0.01, 1);
  const seed = intFlag(flags, 'seed', -(2 ** 31), 2 ** 31 - 1);
  const budget = intFlag(flags, 'time-budget', 0, 600_000);
  if (budget !== undefined && budget > 0) req.timeBudgetMs = budget;
  if (temperature !== undefined) req.temperature = temperature;
  if (topP !== undefined) req.topP = topP;
  if (seed !== undefined) req.seed = seed;
  engineOptions(flags); // validates device/threads/model before the file is read
  const file = flags.file as string | undefined;
  if (!file) throw new UsageError('complete needs --file F --line L --column C');
  if (flags.line === undefined) throw new UsageError('complete needs --line L (1-based)');
  if (flags.column === undefined) throw new UsageError('complete needs --column C (1-based)');
  const line = intFlag(flags, 'line', 1, Number.MAX_SAFE_INTEGER);
  const column = intFlag(flags, 'column', 1, Number.MAX_SAFE_INTEGER);
  req.languageId = (flags.language as string | undefined) ?? languageOf(file);
  req.path = path.relative(process.cwd(), path.resolve(file)) || file;
  const text = readTextFile(file);
  const { prefix, suffix } = splitAt(text, line!, column!, file);
  req.prefix = prefix;
  req.suffix = suffix;
  const engine = await loadEngine(flags, false);
  try {
    const { res, wallMs } = await complete(engine, req);
    if (flags.json) {
      out({
        file,
        line,
        column,
        languageId: req.languageId,
        strategy: res.strategy,
        k: req.k,
        mode: req.mode,
        maxTokens: req.maxTokens,
        speculative: req.speculative,
        model: engine.info.model,
        device: engine.info.device,
        loadMs: round(engine.info.loadMs, 1),
        wallMs: round(wallMs, 1),
        drafts: res.drafts.map((d) => ({ text: d.text, score: round(d.score, 4), tokens: d.tokens })),
        timing: res.timing,
      });
    } else {
      process.stdout.write(`${file}:${line}:${column} (${req.languageId}) · ${res.strategy} k=${req.k} · mode ${req.mode}\n`);
      process.stdout.write(`model ${engine.info.model} on ${engine.info.device} (loaded in ${engine.info.loadMs.toFixed(0)} ms)\n`);
      printDrafts(res, wallMs);
    }
  } finally {
    await engine.dispose();
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// eval

interface EvalCase {
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

async function cmdEval(flags: Flags): Promise<number> {
  const file = flags.cases as string | undefined;
  if (!file) throw new UsageError('eval needs --cases FILE.jsonl');
  const strategy = strategyFlag(flags, 'superposed');
  const k = intFlag(flags, 'k', 1, 16, 3);
  const limit = intFlag(flags, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const maxTokens = intFlag(flags, 'max-tokens', 1, 1024, 48);
  const mode = modeFlag(flags, 'line');
  const seed0 = intFlag(flags, 'seed', -(2 ** 31), 2 ** 31 - 1, 1);
  engineOptions(flags);
  const cases = readCases(file, limit);
  const detailsFile = flags.details as string | undefined;
  const details: string[] = [];
  const engine = await loadEngine(flags, false);
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
      if (res.drafts.length < (strategy === 'greedy' ? 1 : k)) fewerThanK++;
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
    k: strategy === 'greedy' ? 1 : k,
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

// ---------------------------------------------------------------------------------------------------------------
// bench

interface BenchPrompt {
  id: string;
  file: string;
  line: number;
  column: number;
  language: string;
  repetition: boolean;
  prefix: string;
  suffix: string;
}

export function loadBenchPrompts(dir: string): BenchPrompt[] {
  const manifest = path.join(dir, 'prompts.json');
  if (!existsSync(manifest)) throw new UsageError(`prompt set ${dir} has no prompts.json`);
  let list: { id: string; file: string; line: number; column: number; language?: string; repetition: boolean }[];
  try {
    list = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch (e) {
    throw new UsageError(`${manifest}: ${(e as Error).message}`);
  }
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`${manifest} must be a non-empty array`);
  return list.map((p, i) => {
    if (typeof p.file !== 'string' || !Number.isInteger(p.line) || !Number.isInteger(p.column) || typeof p.repetition !== 'boolean') {
      throw new UsageError(`${manifest}: entry ${i} needs file, line, column and repetition`);
    }
    const f = path.join(dir, p.file);
    const text = readTextFile(f);
    const { prefix, suffix } = splitAt(text, p.line, p.column, f);
    return { id: p.id ?? `${p.file}:${p.line}:${p.column}`, file: p.file, line: p.line, column: p.column, language: p.language ?? languageOf(f), repetition: p.repetition, prefix, suffix };
  });
}

interface Series {
  latency: number[];
  tokens: number;
  ms: number;
  requests: number;
}

function series(): Series {
  return { latency: [], tokens: 0, ms: 0, requests: 0 };
}

function summary(s: Series) {
  return {
    requests: s.requests,
    latency_ms_p50: round(percentile(s.latency, 0.5), 1),
    latency_ms_p95: round(percentile(s.latency, 0.95), 1),
    tokens_per_s: round(s.ms > 0 ? (1000 * s.tokens) / s.ms : 0, 1),
  };
}

/**
 * Decoding step time with the append-only KV store against fetching the whole present.* (what any Optimum export
 * does) at several context lengths: two runtimes of the same model, alternating, one token per step. Undefined when
 * the model has no present_delta.* outputs.
 */
async function benchKvStore(opts: EngineOptions): Promise<Record<string, unknown> | undefined> {
  const config = readModelConfig(opts.modelDir ? path.resolve(opts.modelDir) : defaultModelDir());
  const base = { device: opts.device, threads: opts.threads };
  const store = await ModelRuntime.load(config, base);
  const plain = await ModelRuntime.load(config, { ...base, appendOnlyKv: false });
  try {
    if (!store.appendOnlyKv) return undefined;
    const STEPS = 32;
    const ROUNDS = 5;
    const out: Record<string, unknown> = {};
    for (const context of [100, 400, 800].filter((c) => c + ROUNDS * STEPS < config.maxPositions)) {
      const prompt = Array.from({ length: context }, (_, i) => 6 + ((i * 7919) % Math.max(1, config.vocabSize - 6)));
      const ms: Record<'store' | 'present', number[]> = { store: [], present: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (const [name, rt] of [['store', store], ['present', plain]] as const) {
          let kv = (await rt.forward({ ids: prompt, batch: 1, seq: context, past: rt.emptyKv(1) })).kv;
          const t = performance.now();
          for (let i = 0; i < STEPS; i++) kv = (await rt.forward({ ids: [prompt[i]], batch: 1, seq: 1, past: kv })).kv;
          ms[name].push((performance.now() - t) / STEPS);
        }
      }
      const a = percentile(ms.store, 0.5);
      const b = percentile(ms.present, 0.5);
      out[`context_${context}`] = { store_ms_per_step: round(a, 3), present_ms_per_step: round(b, 3), present_over_store: round(b / a) };
    }
    return out;
  } finally {
    await store.dispose();
    await plain.dispose();
  }
}

async function cmdBench(flags: Flags): Promise<number> {
  const dir = (flags.prompts as string | undefined) ?? path.join(packageRoot(), 'bench', 'prompts');
  const repeat = intFlag(flags, 'repeat', 1, 100, 2);
  const maxTokens = intFlag(flags, 'max-tokens', 1, 1024, 32);
  const limit = intFlag(flags, 'limit', 1, 1000);
  engineOptions(flags);
  let prompts = loadBenchPrompts(dir);
  if (limit !== undefined) prompts = prompts.slice(0, limit);
  const rssBefore = process.memoryUsage().rss;
  const engine = await loadEngine(flags, false);
  let rssPeak = process.memoryUsage().rss;
  const rssAfterLoad = rssPeak;
  const sample = () => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  };
  const K = 4;
  const req = (p: BenchPrompt, over: Partial<CompletionRequest>): CompletionRequest => ({
    prefix: p.prefix,
    suffix: p.suffix,
    languageId: p.language,
    path: `bench/${p.file}`,
    strategy: 'greedy',
    k: 1,
    maxTokens,
    mode: 'line',
    speculative: false,
    ignoreStop: true,
    ...over,
  });
  type Config = { name: string; over: Partial<CompletionRequest>; runs?: number };
  const configs: Config[] = [
    { name: 'greedy', over: { strategy: 'greedy', k: 1, speculative: false } },
    { name: 'greedy_speculative', over: { strategy: 'greedy', k: 1, speculative: true } },
    { name: 'superposed_k4', over: { strategy: 'superposed', k: K, speculative: false } },
    { name: 'beam_k4', over: { strategy: 'beam', k: K, speculative: false } },
    { name: 'sampling_k4_batched', over: { strategy: 'sampling', k: K, speculative: false } },
    { name: 'sampling_k1_x4_sequential', over: { strategy: 'sampling', k: 1, speculative: false }, runs: K },
  ];
  const stats: Record<string, Series> = {};
  const statsRep: Record<string, Series> = {};
  for (const c of configs) {
    stats[c.name] = series();
    statsRep[c.name] = series();
  }
  let identical = 0;
  let identicalOf = 0;
  // superposed ÷ greedy on the same prompt in the same round: robust to load changing during the run
  const pairedRatios: number[] = [];
  let lastGreedyMs = NaN;
  const greedyText = new Map<string, string>();
  const kv = { cold: [] as number[], typed: [] as number[], coldPrefill: [] as number[], typedPrefill: [] as number[], reused: [] as number[] };
  let seed = 1;
  try {
    // Warm-up (not timed): first forwards allocate and JIT.
    progress('warming up ...');
    for (const c of configs) await complete(engine, req(prompts[0], { ...c.over, maxTokens: 4, seed: seed++ }));
    for (let pi = 0; pi < prompts.length; pi++) {
      const p = prompts[pi];
      // KV reuse: a cold request on this prompt (the previous request was another prompt), then the same request
      // after typing one more character (the first character of the cold draft).
      const cold = await complete(engine, req(p, { maxTokens: 16, speculative: true }));
      const typedChar = cold.res.drafts[0]?.text.replace(/\n[\s\S]*/, '').charAt(0) || ' ';
      const typed = await complete(engine, req({ ...p, prefix: p.prefix + typedChar }, { maxTokens: 16, speculative: true }));
      kv.cold.push(cold.wallMs);
      kv.typed.push(typed.wallMs);
      kv.coldPrefill.push(cold.res.timing.prefillMs);
      kv.typedPrefill.push(typed.res.timing.prefillMs);
      kv.reused.push(typed.res.timing.reusedTokens);
      // Prime the prompt cache so that every strategy below is timed on the same warm prompt.
      await complete(engine, req(p, { maxTokens: 1 }));
      for (let r = 0; r < repeat; r++) {
        for (const c of configs) {
          const runs = c.runs ?? 1;
          let ms = 0;
          let tokens = 0;
          let text = '';
          for (let j = 0; j < runs; j++) {
            const { res, wallMs } = await complete(engine, req(p, { ...c.over, seed: seed++ }));
            ms += wallMs;
            for (const d of res.drafts) tokens += d.tokens;
            if (j === 0) text = res.drafts[0]?.text ?? '';
          }
          sample();
          for (const s of [stats[c.name], ...(p.repetition ? [statsRep[c.name]] : [])]) {
            s.latency.push(ms);
            s.ms += ms;
            s.tokens += tokens;
            s.requests += runs;
          }
          if (c.name === 'greedy') {
            greedyText.set(`${pi}`, text);
            lastGreedyMs = ms;
          }
          if (c.name === 'superposed_k4') pairedRatios.push(ms / lastGreedyMs);
          if (c.name === 'greedy_speculative') {
            identicalOf++;
            if (greedyText.get(`${pi}`) === text) identical++;
          }
        }
      }
      progress(`bench ${pi + 1}/${prompts.length} ${p.id}${p.repetition ? ' (repetition)' : ''}: greedy ${stats.greedy.latency.at(-1)?.toFixed(0)} ms, superposed k=4 ${stats.superposed_k4.latency.at(-1)?.toFixed(0)} ms`);
    }
  } finally {
    sample();
    await engine.dispose();
  }
  progress('KV store: decoding steps with and without it ...');
  const kvStore = await benchKvStore(engineOptions(flags));
  const med = (name: string, s = stats) => percentile(s[name].latency, 0.5);
  const tps = (name: string, s = stats) => (s[name].ms > 0 ? s[name].tokens / s[name].ms : 0);
  const result = {
    model: engine.info.model,
    device: engine.info.device,
    prompts: prompts.length,
    prompts_with_repetition: prompts.filter((p) => p.repetition).length,
    repeat,
    max_tokens: maxTokens,
    model_load_ms: round(engine.info.loadMs, 1),
    rss_bytes: { before_load: rssBefore, after_load: rssAfterLoad, peak: rssPeak },
    strategies: Object.fromEntries(configs.map((c) => [c.name, summary(stats[c.name])])),
    strategies_on_repetition_prompts: Object.fromEntries(configs.map((c) => [c.name, summary(statsRep[c.name])])),
    ratios: {
      superposed_k4_over_greedy: round(med('superposed_k4') / med('greedy')),
      superposed_k4_over_greedy_paired_median: round(percentile(pairedRatios, 0.5)),
      sequential_nucleus_x4_over_superposed_k4: round(med('sampling_k1_x4_sequential') / med('superposed_k4')),
      batched_nucleus_k4_over_superposed_k4: round(med('sampling_k4_batched') / med('superposed_k4')),
      speculative_speedup_tokens_per_s: round(tps('greedy_speculative') / Math.max(1e-9, tps('greedy'))),
      speculative_speedup_tokens_per_s_repetition: round(tps('greedy_speculative', statsRep) / Math.max(1e-9, tps('greedy', statsRep))),
      speculative_identical_outputs: `${identical}/${identicalOf}`,
      typed_char_over_cold_request: round(percentile(kv.typed, 0.5) / percentile(kv.cold, 0.5)),
      typed_char_prefill_over_cold_prefill: round(percentile(kv.typedPrefill, 0.5) / Math.max(1e-9, percentile(kv.coldPrefill, 0.5))),
    },
    kv_reuse: {
      cold_ms_p50: round(percentile(kv.cold, 0.5), 1),
      typed_char_ms_p50: round(percentile(kv.typed, 0.5), 1),
      cold_prefill_ms_p50: round(percentile(kv.coldPrefill, 0.5), 1),
      typed_char_prefill_ms_p50: round(percentile(kv.typedPrefill, 0.5), 1),
      typed_char_reused_tokens_p50: percentile(kv.reused, 0.5),
      draft_tokens: 16,
    },
    // ms per decoding step (batch 1, one token) at each context length: the append-only KV store (the model's
    // present_delta.* outputs) against fetching the whole present.*; null for models without present_delta.*
    kv_store: kvStore ?? null,
    notes:
      'Drafts are fixed-length (stop rules off, EOS still ends a draft). Strategy latencies are measured with the ' +
      'prompt already in the KV cache (primed per prompt), so they compare decoding; the kv_reuse block compares a cold ' +
      'prompt with the same prompt after typing the first character of its draft (greedy with speculative units on, as users run it; 16 tokens). tokens_per_s counts the tokens of all drafts.',
  };
  if (flags.json) out(result);
  else {
    process.stdout.write(`bench: ${result.prompts} prompts (${result.prompts_with_repetition} with repetition) × ${repeat} · ${maxTokens} tokens · ${result.model} on ${result.device}\n`);
    process.stdout.write(`model load ${result.model_load_ms} ms · RSS after load ${(rssAfterLoad / 1048576).toFixed(0)} MB, peak ${(rssPeak / 1048576).toFixed(0)} MB\n\n`);
    process.stdout.write(`${'strategy'.padEnd(28)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'tokens/s'.padStart(10)}\n`);
    for (const c of configs) {
      const s = result.strategies[c.name];
      process.stdout.write(`${c.name.padEnd(28)}${String(s.latency_ms_p50).padStart(10)}${String(s.latency_ms_p95).padStart(10)}${String(s.tokens_per_s).padStart(10)}\n`);
    }
    process.stdout.write('\n');
    for (const [k, v] of Object.entries(result.ratios)) process.stdout.write(`${k.padEnd(48)}${v}\n`);
    if (kvStore) {
      for (const [k, v] of Object.entries(kvStore) as [string, { store_ms_per_step: number; present_ms_per_step: number }][]) {
        process.stdout.write(`\nKV store, ${k.replace('context_', '')} context tokens: ${v.store_ms_per_step} ms/step (present.*: ${v.present_ms_per_step} ms)`);
      }
      process.stdout.write('\n');
    }
    process.stdout.write(`\nKV reuse: cold ${result.kv_reuse.cold_ms_p50} ms, after one typed character ${result.kv_reuse.typed_char_ms_p50} ms (prefill ${result.kv_reuse.cold_prefill_ms_p50} → ${result.kv_reuse.typed_char_prefill_ms_p50} ms)\n`);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// demo

const CURSOR_MARK = '<|cursor|>';

async function cmdDemo(flags: Flags): Promise<number> {
  const file = (flags.file as string | undefined) ?? path.join(packageRoot(), 'examples', 'demo.ts');
  const k = intFlag(flags, 'k', 1, 16, 3);
  const maxTokens = intFlag(flags, 'max-tokens', 1, 1024, 48);
  engineOptions(flags);
  const raw = readTextFile(file);
  const at = raw.indexOf(CURSOR_MARK);
  if (at < 0) throw new UsageError(`${file} has no cursor marker ${CURSOR_MARK}`);
  const prefix = raw.slice(0, at);
  const suffix = raw.slice(at + CURSOR_MARK.length);
  const line = prefix.split('\n').length;
  const column = prefix.length - prefix.lastIndexOf('\n');
  const engine = await loadEngine(flags, false);
  const runs: { name: string; over: Partial<CompletionRequest> }[] = [
    { name: 'greedy', over: { strategy: 'greedy', k: 1, speculative: false } },
    { name: 'greedy + speculative', over: { strategy: 'greedy', k: 1, speculative: true } },
    { name: `superposed k=${k}`, over: { strategy: 'superposed', k } },
    { name: `beam k=${k}`, over: { strategy: 'beam', k } },
    { name: `sampling k=${k}`, over: { strategy: 'sampling', k, seed: 7 } },
  ];
  const results: unknown[] = [];
  try {
    if (!flags.json) {
      process.stdout.write(`Superdraft demo · ${path.basename(file)}:${line}:${column} · model ${engine.info.model} on ${engine.info.device} (loaded in ${engine.info.loadMs.toFixed(0)} ms)\n`);
      process.stdout.write(`context before the cursor:\n${indent(prefix.split('\n').slice(-4).join('\n'), '    ')}█\n\n`);
    }
    for (const r of runs) {
      const { res, wallMs } = await complete(engine, {
        prefix,
        suffix,
        languageId: languageOf(file),
        path: path.basename(file),
        strategy: 'superposed',
        k,
        maxTokens,
        mode: 'auto',
        speculative: false,
        ...(flags['no-copy'] === true ? { copyDrafts: false } : {}),
        ...r.over,
      });
      if (flags.json) results.push({ name: r.name, wallMs: round(wallMs, 1), drafts: res.drafts.map((d) => ({ text: d.text, score: round(d.score, 4), tokens: d.tokens, ...(d.copiedFrom ? { copiedFrom: d.copiedFrom } : {}) })), timing: res.timing });
      else {
        process.stdout.write(`${r.name}\n`);
        printDrafts(res, wallMs);
        process.stdout.write('\n');
      }
    }
  } finally {
    await engine.dispose();
  }
  if (flags.json) out({ file, line, column, model: engine.info.model, device: engine.info.device, loadMs: round(engine.info.loadMs, 1), runs: results });
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// main

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd) {
    process.stderr.write(HELP.main + '\n');
    return 2;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP.main + '\n');
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  if (cmd === 'model') return (await import('./model')).runModelCommand(rest);
  if (!(cmd in COMMAND_OPTIONS)) throw new UsageError(`unknown command ${JSON.stringify(cmd)} (expected complete, eval, bench or demo; see superdraft --help)`);
  const command = cmd as Command;
  const flags = parse(command, rest);
  if (flags.help) {
    process.stdout.write(HELP[command] + '\n');
    return 0;
  }
  switch (command) {
    case 'complete':
      return cmdComplete(flags);
    case 'eval':
      return cmdEval(flags);
    case 'bench':
      return cmdBench(flags);
    case 'demo':
      return cmdDemo(flags);
  }
}

function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return 2;
  if (e instanceof EngineError) return e.code === 'invalid_request' ? 2 : e.code === 'cancelled' ? 130 : 1;
  return 1;
}

{
  process.on('SIGINT', () => {
    if (activeAbort) activeAbort.abort();
    else process.exit(130);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const code = exitCodeOf(e);
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`superdraft: ${code === 2 ? 'usage error: ' : 'error: '}${msg}\n`);
      if (code === 2) process.stderr.write('(see superdraft --help)\n');
      else if (process.env.SUPERDRAFT_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
      process.exitCode = code;
    },
  );
}
