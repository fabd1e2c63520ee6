/** Command-line flags: each command's options, parsing, and the typed readers that turn a bad value into a UsageError. */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { EngineOptions } from '../engine/engine';
import { DEVICES, STRATEGIES, type CompletionMode, type DeviceName, type StrategyName } from '../protocol';
import { BOUNDS, DEFAULTS } from '../protocol/defaults';
import { UsageError } from './files';

export type Flags = Record<string, string | boolean | undefined>;

const COMMON = {
  model: { type: 'string' },
  variant: { type: 'string' },
  'verify-tokens': { type: 'string' },
  'no-verify': { type: 'boolean' },
  'no-copy': { type: 'boolean' },
  device: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  /** A server instead of the local engine (src/cli/remote.ts). */
  backend: { type: 'string' },
  endpoint: { type: 'string' },
  'remote-model': { type: 'string' },
  'remote-fim': { type: 'string' },
} as const;

export const COMMAND_OPTIONS = {
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
    /** line (default) or next-edit (commands/evalNextEdit.ts) */
    task: { type: 'string' },
    /** next-edit only: the score below which drafts are not shown */
    threshold: { type: 'string' },
    /** next-edit only: rank the sites with the model's scoring too */
    'model-rank': { type: 'boolean' },
  },
  bench: {
    ...COMMON,
    prompts: { type: 'string' },
    repeat: { type: 'string' },
    peer: { type: 'boolean' },
    'transfer-only': { type: 'boolean' },
    'peer-gguf': { type: 'string' },
    'max-tokens': { type: 'string' },
    limit: { type: 'string' },
    /** with --backend: the strategy and k asked of the server */
    strategy: { type: 'string' },
    k: { type: 'string', short: 'k' },
    mode: { type: 'string' },
  },
  serve: {
    ...COMMON,
    host: { type: 'string' },
    port: { type: 'string' },
    tokens: { type: 'string' },
    'max-concurrent': { type: 'string' },
    strategy: { type: 'string' },
    'max-body-bytes': { type: 'string' },
    'max-prompt-chars': { type: 'string' },
    'headers-timeout-ms': { type: 'string' },
    'body-timeout-ms': { type: 'string' },
    'cache-entries': { type: 'string' },
  },
  loadtest: {
    ...COMMON,
    url: { type: 'string' },
    'token-file': { type: 'string' },
    users: { type: 'string' },
    strategy: { type: 'string' },
    k: { type: 'string', short: 'k' },
    'max-tokens': { type: 'string' },
    seconds: { type: 'string' },
    'key-ms': { type: 'string' },
  },
  doctor: {
    ...COMMON,
    placement: { type: 'boolean' },
    'no-bench': { type: 'boolean' },
  },
  demo: {
    ...COMMON,
    file: { type: 'string' },
    k: { type: 'string', short: 'k' },
    'max-tokens': { type: 'string' },
  },
} as const;

export type Command = keyof typeof COMMAND_OPTIONS;

export function parse(cmd: Command, argv: string[]): Flags {
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

export function intFlag(flags: Flags, name: string, min: number, max: number, def: number): number;
export function intFlag(flags: Flags, name: string, min: number, max: number, def?: undefined): number | undefined;
export function intFlag(flags: Flags, name: string, min: number, max: number, def?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const s = String(v).trim();
  const label = name.length === 1 ? `-${name}` : `--${name}`;
  if (!/^[+-]?\d+$/.test(s)) throw new UsageError(`${label} must be an integer in ${min}..${max} (got ${JSON.stringify(v)})`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${label} must be an integer in ${min}..${max} (got ${n})`);
  return n;
}

export function numFlag(flags: Flags, name: string, min: number, max: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in ${min}..${max} (got ${JSON.stringify(v)})`);
  return n;
}

export function strategyFlag(flags: Flags, def: StrategyName): StrategyName {
  const v = flags.strategy;
  if (v === undefined) return def;
  if (!STRATEGIES.includes(v as StrategyName)) throw new UsageError(`unknown strategy ${JSON.stringify(v)} (expected one of ${STRATEGIES.join(', ')})`);
  return v as StrategyName;
}

export function modeFlag(flags: Flags, def: CompletionMode): CompletionMode {
  const v = flags.mode;
  if (v === undefined) return def;
  if (v !== 'line' && v !== 'block' && v !== 'auto') throw new UsageError(`unknown mode ${JSON.stringify(v)} (expected line, block or auto)`);
  return v;
}

export function engineOptions(flags: Flags): EngineOptions {
  const device = (flags.device ?? DEFAULTS.device) as DeviceName;
  if (!DEVICES.includes(device)) throw new UsageError(`unknown device ${JSON.stringify(flags.device)} (expected one of ${DEVICES.join(', ')})`);
  const threads = intFlag(flags, 'threads', 1, 256);
  // `--model embedded` names the bundled model (models/default); a folder called "embedded" is ./embedded
  const model = flags.model === 'embedded' ? undefined : (flags.model as string | undefined);
  if (model !== undefined) {
    if (!model) throw new UsageError('--model needs a directory');
    if (!existsSync(model)) throw new UsageError(`model directory ${model} does not exist`);
    if (!statSync(model).isDirectory()) throw new UsageError(`--model ${model} is not a directory`);
  }
  const verbose = flags.verbose === true;
  const variant = flags.variant as string | undefined;
  if (variant !== undefined && !variant) throw new UsageError('--variant needs a name (q4, fp32, …)');
  const verifyTokens = intFlag(flags, 'verify-tokens', 1, 16);
  return {
    modelDir: model,
    ...(variant ? { variant } : {}),
    ...(verifyTokens !== undefined ? { verifyTokens } : {}),
    device,
    threads,
    ...(flags['no-verify'] === true ? { superposed: { verify: false } } : {}),
    log: (level, message) => {
      if (verbose || level === 'error' || level === 'warn') process.stderr.write(`[${level}] ${message}\n`);
    },
  };
}

/** -k, --max-tokens and --mode with the shared defaults (mode: the command's own). */
export function draftFlags(flags: Flags, mode: CompletionMode = DEFAULTS.mode): { k: number; maxTokens: number; mode: CompletionMode } {
  return {
    k: intFlag(flags, 'k', BOUNDS.k.min, BOUNDS.k.max, DEFAULTS.drafts),
    maxTokens: intFlag(flags, 'max-tokens', BOUNDS.maxTokens.min, BOUNDS.maxTokens.max, DEFAULTS.maxTokens),
    mode: modeFlag(flags, mode),
  };
}
