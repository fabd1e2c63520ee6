/**
 * Where the nodes of a model run: which execution provider onnxruntime assigned each node of the optimised graph,
 * counted from onnxruntime's own profile (one "Node" event per kernel run, with `args.provider` and `args.op_name`).
 * A GPU session silently falling back to the CPU for its compute shows here as MatMuls on CPUExecutionProvider.
 *
 * The forwards profiled are the ones decoding makes: a prefill of a few tokens, a batch-1 decoding step that
 * continues it (through the append-only store where the model has one), and a batch-2 step (batched strategies),
 * with the superposition input (k = 2) where the model takes it.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DeviceName } from '../../protocol';
import type { ModelConfig } from './config';
import { ModelRuntime } from './runtime';
import type { LogFn } from './session';

export interface Placement {
  /** The execution provider the session was created with. */
  device: string;
  /** Per provider (e.g. WebGpuExecutionProvider, CPUExecutionProvider): distinct nodes run, by op type. */
  providers: Record<string, Record<string, number>>;
  /** Distinct nodes per provider. */
  totals: Record<string, number>;
  /**
   * What the forwards computed, to compare devices: per forward (prefill, step, batch-2 step), the last row's five
   * highest logits [id, value] and the logits of 64 ids spread over the vocabulary.
   */
  logits: { top: [number, number][]; sample: number[] }[];
}

const SAMPLE_IDS = 64;

/** The last row's top five and a spread sample of a forward's logits. */
function summarise(logits: Float32Array, vocab: number): Placement['logits'][number] {
  const row = logits.subarray(logits.length - vocab);
  const order = Array.from({ length: vocab }, (_, i) => i)
    .filter((i) => Number.isFinite(row[i]))
    .sort((a, b) => row[b] - row[a] || a - b)
    .slice(0, 5);
  const sample: number[] = [];
  for (let j = 0; j < SAMPLE_IDS; j++) sample.push(row[Math.floor((j * (vocab - 1)) / (SAMPLE_IDS - 1))]);
  return { top: order.map((i) => [i, row[i]] as [number, number]), sample };
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string };
}

/** Counts the distinct nodes per provider and op type in an onnxruntime profile (JSON array of trace events). */
export function countPlacement(events: ProfileEvent[]): Pick<Placement, 'providers' | 'totals'> {
  const seen = new Set<string>();
  const providers: Record<string, Record<string, number>> = {};
  const totals: Record<string, number> = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || !e.args?.provider || !e.args.op_name) continue;
    const key = `${e.args.provider}\u0000${e.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const byOp = (providers[e.args.provider] ??= {});
    byOp[e.args.op_name] = (byOp[e.args.op_name] ?? 0) + 1;
    totals[e.args.provider] = (totals[e.args.provider] ?? 0) + 1;
  }
  return { providers, totals };
}

/** Runs the forwards decoding makes on `device` with onnxruntime's profiling on, and counts where the nodes ran. */
export async function measurePlacement(config: ModelConfig, opts: { device: DeviceName; threads?: number; log?: LogFn }): Promise<Placement> {
  const dir = mkdtempSync(path.join(tmpdir(), 'superdraft-profile-'));
  try {
    const rt = await ModelRuntime.load(config, { ...opts, profilePrefix: path.join(dir, 'profile') });
    const logits: Placement['logits'] = [];
    try {
      const ids = [5, 6, 7, 8, 9, 10, 11, 12];
      const k = rt.superposition ? 2 : 1;
      const spread = (t: number[]) => t.flatMap((id) => Array.from({ length: k }, (_, j) => id + j));
      const prefill = await rt.forward({ ids: spread(ids), batch: 1, seq: ids.length, k, past: rt.emptyKv(1), lastRows: 1 });
      const step = await rt.forward({ ids: spread([13]), batch: 1, seq: 1, k, past: prefill.kv });
      const pair = await rt.forward({ ids: spread([14, 15]), batch: 2, seq: 1, k, past: rt.selectRows(step.kv, [0, 0]) });
      for (const f of [prefill, step, pair]) logits.push(summarise(f.logits, f.vocab));
    } finally {
      rt.endProfiling();
      await rt.dispose();
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`onnxruntime wrote no profile into ${dir}`);
    const events = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as ProfileEvent[];
    // The runtime reports the provider it settled on; with `auto` that is the first one that created a session.
    return { device: opts.device, ...countPlacement(events), logits };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
