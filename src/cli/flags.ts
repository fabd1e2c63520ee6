/** Command-line flags: each command's options, parsing, and the typed readers that turn a bad value into a UsageError. */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { EngineOptions } from '../engine/engine';
import { DEVICES, STRATEGIES, type CompletionMode, type DeviceName, type StrategyName } from '../protocol';
import { BOUNDS, DEFAULTS } from '../protocol/defaults';
import { UsageError } from './files';

export type Flags = Record<string, string | boolean | undefined>;

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>;
/** Options that take a value. */
const strings = (...names: string[]): Options => Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));
/** Options that are switches. */
const switches = (...names: string[]): Options => Object.fromEntries(names.map((n) => [n, { type: 'boolean' as const }]));
/** `-k K`: drafts per completion. */
const K: Options = { k: { type: 'string', short: 'k' } };

const COMMON: Options = {
  ...strings('model', 'variant', 'verify-tokens', 'device', 'threads'),
  ...switches('no-verify', 'no-copy', 'json', 'verbose'),
  help: { type: 'boolean', short: 'h' },
  // a server instead of the local engine (src/cli/remote.ts)
  ...strings('backend', 'endpoint', 'remote-model', 'remote-fim'),
};

export const COMMAND_OPTIONS = {
  complete: {
    ...COMMON,
    ...K,
    ...strings('file', 'line', 'column', 'strategy', 'max-tokens', 'mode', 'language', 'temperature', 'top-p', 'seed', 'time-budget'),
    ...switches('no-speculative'),
  },
  eval: {
    ...COMMON,
    ...K,
    ...strings('cases', 'strategy', 'limit', 'max-tokens', 'mode', 'seed', 'details', 'time-budget'),
    ...switches('no-speculative'),
    // --task line (default) or next-edit (commands/evalNextEdit.ts); next-edit only: --threshold (the score below
    // which drafts are not shown) and --model-rank (rank the sites with the model's scoring too)
    ...strings('task', 'threshold'),
    ...switches('model-rank'),
  },
  bench: {
    ...COMMON,
    ...strings('prompts', 'repeat', 'peer-gguf', 'max-tokens', 'limit'),
    ...switches('peer', 'transfer-only'),
    // with --backend: the strategy, k and mode asked of the server
    ...strings('strategy', 'mode'),
    ...K,
  },
  serve: {
    ...COMMON,
    ...strings('host', 'port', 'tokens', 'max-concurrent', 'strategy', 'max-body-bytes', 'max-prompt-chars', 'headers-timeout-ms', 'body-timeout-ms', 'cache-entries'),
  },
  loadtest: {
    ...COMMON,
    ...K,
    ...strings('url', 'token-file', 'users', 'strategy', 'max-tokens', 'seconds', 'key-ms'),
  },
  doctor: {
    ...COMMON,
    ...switches('placement', 'no-bench'),
  },
  demo: {
    ...COMMON,
    ...K,
    ...strings('file', 'max-tokens'),
  },
} satisfies Record<string, Options>;

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
