/**
 * `superdraft bench`: every strategy on the bundled prompt set (latency, tokens/s, RSS, ratios), KV-cache reuse after
 * one typed character, and the append-only KV store against fetching the whole present.*.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readModelConfig } from '../../engine/model/config';
import { defaultModelDir, type Engine, type EngineOptions } from '../../engine/engine';
import { weightsVariant } from '../../prepare/prepare';
import { ModelRuntime } from '../../engine/model/runtime';
import { defaultThreads } from '../../engine/model/modelSize';
import { benchTransfer } from './benchTransfer';
import type { CompletionRequest } from '../../protocol';
import { UsageError, languageOf, readTextFile, splitAt } from '../files';
import { engineOptions, intFlag, type Flags } from '../flags';
import { percentile, round } from '../metrics';
import { complete, loadEngine, out, packageRoot, progress } from '../run';
import { PEER_CONTEXT, benchPeer } from './benchPeer';
import { benchDevice, type DeviceFigures } from './benchRoofline';
import { benchRemote } from './benchRemote';
import { remoteFlags } from '../remote';

export interface BenchPrompt {
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

function summary(s: Series, maxTokens: number) {
  return {
    requests: s.requests,
    // fixed-length drafts: ms per decoded position (a multi-draft strategy decodes k drafts per position)
    decode_ms_per_token: round(percentile(s.latency, 0.5) / maxTokens, 2),
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

/** Drafts per multi-draft strategy in the bench. */
const K = 4;

interface BenchConfig {
  name: string;
  over: Partial<CompletionRequest>;
  /** Sequential requests per timed run (4 nucleus runs against one batched request). */
  runs?: number;
}

const CONFIGS: readonly BenchConfig[] = [
  { name: 'greedy', over: { strategy: 'greedy', k: 1, speculative: false } },
  { name: 'greedy_speculative', over: { strategy: 'greedy', k: 1, speculative: true } },
  { name: 'superposed_k4', over: { strategy: 'superposed', k: K, speculative: false } },
  { name: 'beam_k4', over: { strategy: 'beam', k: K, speculative: false } },
  { name: 'sampling_k4_batched', over: { strategy: 'sampling', k: K, speculative: false } },
  { name: 'sampling_k1_x4_sequential', over: { strategy: 'sampling', k: 1, speculative: false }, runs: K },
];

/** Everything one bench run measures, filled prompt by prompt. */
class BenchTally {
  readonly stats: Record<string, Series> = {};
  /** The same, on the prompts with repetition from the context only. */
  readonly statsRep: Record<string, Series> = {};
  identical = 0;
  identicalOf = 0;
  /** superposed ÷ greedy on the same prompt in the same round: robust to load changing during the run. */
  readonly pairedRatios: number[] = [];
  private lastGreedyMs = NaN;
  private greedyText = '';
  readonly kv = { cold: [] as number[], typed: [] as number[], coldPrefill: [] as number[], typedPrefill: [] as number[], reused: [] as number[] };
  rssPeak = process.memoryUsage().rss;
  /** Verification decisions of the superposed k=4 runs (tokens per draft, the costs they were made on). */
  readonly verifyCosts: { tokens: number[]; last?: Record<string, number> } = { tokens: [] };

  constructor() {
    for (const c of CONFIGS) {
      this.stats[c.name] = series();
      this.statsRep[c.name] = series();
    }
  }

  sampleRss(): void {
    this.rssPeak = Math.max(this.rssPeak, process.memoryUsage().rss);
  }

  /** One timed run of `c` on `p`: the series, the paired ratio and the speculative identity check. */
  record(c: BenchConfig, p: BenchPrompt, run: { ms: number; tokens: number; text: string }): void {
    for (const s of [this.stats[c.name]!, ...(p.repetition ? [this.statsRep[c.name]!] : [])]) {
      s.latency.push(run.ms);
      s.ms += run.ms;
      s.tokens += run.tokens;
      s.requests += c.runs ?? 1;
    }
    if (c.name === 'greedy') {
      this.greedyText = run.text;
      this.lastGreedyMs = run.ms;
    }
    if (c.name === 'superposed_k4') this.pairedRatios.push(run.ms / this.lastGreedyMs);
    if (c.name === 'greedy_speculative') {
      this.identicalOf++;
      if (this.greedyText === run.text) this.identical++;
    }
  }
}

/** A fixed-length bench request (stop rules off) for `p`, with `over` applied. */
function benchRequest(p: BenchPrompt, maxTokens: number, over: Partial<CompletionRequest>): CompletionRequest {
  return { prefix: p.prefix, suffix: p.suffix, languageId: p.language, path: `bench/${p.file}`, strategy: 'greedy', k: 1, maxTokens, mode: 'line', speculative: false, ignoreStop: true, ...over };
}

/**
 * KV reuse: a cold request on this prompt (the previous request was another prompt), then the same request after
 * typing one more character (the first character of the cold draft).
 */
async function measureKvReuse(engine: Engine, p: BenchPrompt, maxTokens: number, kv: BenchTally['kv']): Promise<void> {
  const cold = await complete(engine, benchRequest(p, maxTokens, { maxTokens: 16, speculative: true }));
  const typedChar = cold.res.drafts[0]?.text.replace(/\n[\s\S]*/, '').charAt(0) || ' ';
  const typed = await complete(engine, benchRequest({ ...p, prefix: p.prefix + typedChar }, maxTokens, { maxTokens: 16, speculative: true }));
  kv.cold.push(cold.wallMs);
  kv.typed.push(typed.wallMs);
  kv.coldPrefill.push(cold.res.timing.prefillMs);
  kv.typedPrefill.push(typed.res.timing.prefillMs);
  kv.reused.push(typed.res.timing.reusedTokens);
}

/** One timed run of a configuration: `runs` requests, their total time and tokens, the first draft of the first. */
async function timeConfig(engine: Engine, req: (seed: number) => CompletionRequest, runs: number, nextSeed: () => number): Promise<{ ms: number; tokens: number; text: string }> {
  let ms = 0;
  let tokens = 0;
  let text = '';
  for (let j = 0; j < runs; j++) {
    const { res, wallMs } = await complete(engine, req(nextSeed()));
    ms += wallMs;
    for (const d of res.drafts) tokens += d.tokens;
    if (j === 0) text = res.drafts[0]?.text ?? '';
  }
  return { ms, tokens, text };
}

/** The peer (benchPeer.ts) on the bench's prompts, ours timed alongside it prompt by prompt (primed prompt cache). */
async function runPeer(flags: Flags, engine: Engine, prompts: BenchPrompt[], maxTokens: number, nextSeed: () => number): Promise<Record<string, unknown>> {
  const opts = engineOptions(flags);
  const modelDir = opts.modelDir ? path.resolve(opts.modelDir) : defaultModelDir();
  const over = { greedy: CONFIGS[0]!.over, superposed_k4: CONFIGS[2]!.over };
  const ids = prompts.map((p) => engine.tokenizer.encode(p.prefix).slice(-PEER_CONTEXT));
  return benchPeer({
    modelDir,
    variant: opts.variant ?? 'q4',
    gguf: flags['peer-gguf'] as string | undefined,
    threads: opts.threads ?? defaultThreads(readModelConfig(modelDir, opts.variant).modelFile),
    prompts: ids,
    maxTokens,
    ours: async (i, kind) => {
      // the context the peer gets: the prefix's last PEER_CONTEXT tokens, no suffix (decode time grows with context)
      const p = { ...prompts[i]!, prefix: engine.tokenizer.decode(ids[i]!), suffix: '' };
      await complete(engine, benchRequest(p, maxTokens, { maxTokens: 1 }));
      const run = await timeConfig(engine, (s) => benchRequest(p, maxTokens, { ...over[kind], seed: s }), 1, nextSeed);
      return { ms: run.ms, tokens: run.tokens };
    },
  });
}

export async function cmdBench(flags: Flags): Promise<number> {
  const remote = remoteFlags(flags);
  if (remote) return benchRemote(flags, remote, loadBenchPrompts((flags.prompts as string | undefined) ?? path.join(packageRoot(), 'bench', 'prompts')));
  const dir = (flags.prompts as string | undefined) ?? path.join(packageRoot(), 'bench', 'prompts');
  const repeat = intFlag(flags, 'repeat', 1, 100, 2);
  const maxTokens = intFlag(flags, 'max-tokens', 1, 1024, 32);
  const limit = intFlag(flags, 'limit', 1, 1000);
  if (flags['transfer-only'] === true) {
    out({ kv_transfer: (await benchTransfer(engineOptions(flags))) ?? null });
    return 0;
  }
  engineOptions(flags);
  let prompts = loadBenchPrompts(dir);
  if (limit !== undefined) prompts = prompts.slice(0, limit);
  const rssBefore = process.memoryUsage().rss;
  const engine = await loadEngine(flags, false);
  const tally = new BenchTally();
  const rssAfterLoad = tally.rssPeak;
  let peer: Record<string, unknown> | null = null;
  let seed = 1;
  const nextSeed = () => seed++;
  try {
    // Warm-up (not timed): first forwards allocate and JIT.
    progress('warming up ...');
    for (const c of CONFIGS) await complete(engine, benchRequest(prompts[0]!, maxTokens, { ...c.over, maxTokens: 4, seed: nextSeed() }));
    for (let pi = 0; pi < prompts.length; pi++) {
      const p = prompts[pi]!;
      await measureKvReuse(engine, p, maxTokens, tally.kv);
      // Prime the prompt cache so that every strategy below is timed on the same warm prompt.
      await complete(engine, benchRequest(p, maxTokens, { maxTokens: 1 }));
      for (let r = 0; r < repeat; r++) {
        for (const c of CONFIGS) {
          const run = await timeConfig(engine, (s) => benchRequest(p, maxTokens, { ...c.over, seed: s }), c.runs ?? 1, nextSeed);
          tally.sampleRss();
          tally.record(c, p, run);
          if (c.name === 'superposed_k4' && engine.lastVerify) {
            tally.verifyCosts.tokens.push(engine.lastVerify.tokens);
            tally.verifyCosts.last = Object.fromEntries(Object.entries(engine.lastVerify).map(([k, v]) => [k, round(v, 2)]));
          }
        }
      }
      const last = (name: string) => tally.stats[name]!.latency.at(-1)?.toFixed(0);
      progress(`bench ${pi + 1}/${prompts.length} ${p.id}${p.repetition ? ' (repetition)' : ''}: greedy ${last('greedy')} ms, superposed k=4 ${last('superposed_k4')} ms`);
    }
    if (flags.peer === true) peer = await runPeer(flags, engine, prompts, maxTokens, nextSeed);
  } finally {
    tally.sampleRss();
    await engine.dispose();
  }
  progress('KV store: decoding steps with and without it ...');
  const opts = engineOptions(flags);
  const kvStore = await benchKvStore(opts);
  const kvTransfer = await benchTransfer(opts);
  const modelDir = opts.modelDir ? path.resolve(opts.modelDir) : defaultModelDir();
  const device = await benchDevice(modelDir, opts.variant, opts.threads, 1000);
  const result = { ...benchResult(engine, prompts, repeat, maxTokens, tally, { rssBefore, rssAfterLoad }, kvStore, device), kv_transfer: kvTransfer ?? null, peer: withPeerRoofline(peer, device, opts.variant ?? 'q4') };
  if (flags.json) out(result);
  else printBench(result, kvStore);
  return 0;
}

/**
 * The peer's greedy generation time per token against the roofline of the same weights (the q4 step streams the
 * bytes its Q4_0 conversion holds, block for block): where both runtimes sit from the machine's limit.
 */
function withPeerRoofline(peer: Record<string, unknown> | null, device: DeviceFigures, variant: string): Record<string, unknown> | null {
  const theirs = (peer?.greedy_tokens_per_s as { theirs?: number } | undefined)?.theirs;
  const weights = weightsVariant(variant);
  const roof = (device.roofline.variants[weights] as { roofline_step_ms?: number } | undefined)?.roofline_step_ms;
  if (!peer || !theirs || !roof) return peer;
  const ms = 1000 / theirs;
  return { ...peer, decode_ms_per_token: round(ms, 2), decode_over_roofline: round(ms / roof) };
}

function benchResult(
  engine: Engine,
  prompts: BenchPrompt[],
  repeat: number,
  maxTokens: number,
  tally: BenchTally,
  rss: { rssBefore: number; rssAfterLoad: number },
  kvStore: Record<string, unknown> | undefined,
  device: DeviceFigures,
) {
  const { stats, statsRep, kv } = tally;
  const med = (name: string, s = stats) => percentile(s[name]!.latency, 0.5);
  const tps = (name: string, s = stats) => (s[name]!.ms > 0 ? s[name]!.tokens / s[name]!.ms : 0);
  /** ms per position of `drafts` drafts decoded together */
  const perPos = (name: string, drafts: number) => drafts / Math.max(1e-12, tps(name));
  return {
    model: engine.info.model,
    device: engine.info.device,
    prompts: prompts.length,
    prompts_with_repetition: prompts.filter((p) => p.repetition).length,
    repeat,
    max_tokens: maxTokens,
    model_load_ms: round(engine.info.loadMs, 1),
    rss_bytes: { before_load: rss.rssBefore, after_load: rss.rssAfterLoad, peak: tally.rssPeak },
    strategies: Object.fromEntries(CONFIGS.map((c) => [c.name, summary(stats[c.name]!, maxTokens)])),
    strategies_on_repetition_prompts: Object.fromEntries(CONFIGS.map((c) => [c.name, summary(statsRep[c.name]!, maxTokens)])),
    ratios: {
      superposed_k4_over_greedy: round(med('superposed_k4') / med('greedy')),
      superposed_k4_over_greedy_paired_median: round(percentile(tally.pairedRatios, 0.5)),
      sequential_nucleus_x4_over_superposed_k4: round(med('sampling_k1_x4_sequential') / med('superposed_k4')),
      batched_nucleus_k4_over_superposed_k4: round(med('sampling_k4_batched') / med('superposed_k4')),
      speculative_speedup_tokens_per_s: round(tps('greedy_speculative') / Math.max(1e-9, tps('greedy'))),
      speculative_speedup_tokens_per_s_repetition: round(tps('greedy_speculative', statsRep) / Math.max(1e-9, tps('greedy', statsRep))),
      speculative_identical_outputs: `${tally.identical}/${tally.identicalOf}`,
      typed_char_over_cold_request: round(percentile(kv.typed, 0.5) / percentile(kv.cold, 0.5)),
      typed_char_prefill_over_cold_prefill: round(percentile(kv.typedPrefill, 0.5) / Math.max(1e-9, percentile(kv.coldPrefill, 0.5))),
    },
    // The same ratios per decoded draft position (time ÷ tokens of all drafts × drafts per request). Drafts no longer
    // end at an end token in benchmarks, so these equal the latency ratios up to the engine's fixed costs per request.
    ratios_per_draft_token: {
      superposed_k4_over_greedy: round(perPos('superposed_k4', K) / perPos('greedy', 1)),
      sequential_nucleus_x4_over_superposed_k4: round(perPos('sampling_k1_x4_sequential', K) / perPos('superposed_k4', K)),
      batched_nucleus_k4_over_superposed_k4: round(perPos('sampling_k4_batched', K) / perPos('superposed_k4', K)),
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
    roofline: device.roofline,
    cold_path: device.cold_path,
    verify_costs: tally.verifyCosts,
    notes:
      'Drafts are fixed-length (stop rules off, end tokens do not end a draft: every draft has max_tokens tokens). Strategy latencies are measured with the ' +
      'prompt already in the KV cache (primed per prompt), so they compare decoding; the kv_reuse block compares a cold ' +
      'prompt with the same prompt after typing the first character of its draft (greedy with speculative units on, as users run it; 16 tokens). tokens_per_s counts the tokens of all drafts.',
  };
}

function printBench(result: ReturnType<typeof benchResult>, kvStore: Record<string, unknown> | undefined): void {
  const w = (s: string) => process.stdout.write(s);
  w(`bench: ${result.prompts} prompts (${result.prompts_with_repetition} with repetition) × ${result.repeat} · ${result.max_tokens} tokens · ${result.model} on ${result.device}\n`);
  w(`model load ${result.model_load_ms} ms · RSS after load ${(result.rss_bytes.after_load / 1048576).toFixed(0)} MB, peak ${(result.rss_bytes.peak / 1048576).toFixed(0)} MB\n\n`);
  w(`${'strategy'.padEnd(28)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'tokens/s'.padStart(10)}\n`);
  for (const c of CONFIGS) {
    const s = result.strategies[c.name]!;
    w(`${c.name.padEnd(28)}${String(s.latency_ms_p50).padStart(10)}${String(s.latency_ms_p95).padStart(10)}${String(s.tokens_per_s).padStart(10)}\n`);
  }
  w('\n');
  for (const [k, v] of Object.entries(result.ratios)) w(`${k.padEnd(48)}${v}\n`);
  if (kvStore) {
    for (const [k, v] of Object.entries(kvStore) as [string, { store_ms_per_step: number; present_ms_per_step: number }][]) {
      w(`\nKV store, ${k.replace('context_', '')} context tokens: ${v.store_ms_per_step} ms/step (present.*: ${v.present_ms_per_step} ms)`);
    }
    w('\n');
  }
  w(`\nKV reuse: cold ${result.kv_reuse.cold_ms_p50} ms, after one typed character ${result.kv_reuse.typed_char_ms_p50} ms (prefill ${result.kv_reuse.cold_prefill_ms_p50} → ${result.kv_reuse.typed_char_prefill_ms_p50} ms)\n`);
}
