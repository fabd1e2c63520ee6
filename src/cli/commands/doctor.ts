/**
 * `superdraft doctor`: which execution providers this machine offers, the WebGPU adapter (name, vendor, software or
 * not, from Dawn for Node: devices.ts), what `auto` picks and why, what CUDA lacks, a micro-benchmark (≤ 5 s) of the
 * embedded model's decoding step on each usable device, and with --placement where onnxruntime runs each node.
 */
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { defaultModelDir } from '../../engine/engine';
import { readModelConfig } from '../../engine/model/config';
import { chooseAuto, cudaStatus, probeWebGpuAdapter, type AdapterInfo, type AdapterProbe, type CudaStatus } from '../../engine/model/devices';
import { measurePlacement, type Placement } from '../../engine/model/placement';
import { ModelRuntime } from '../../engine/model/runtime';
import type { DeviceName } from '../../protocol';
import { engineOptions, type Flags } from '../flags';
import { round } from '../metrics';
import { out } from '../run';

export interface DoctorProvider {
  name: string;
  /** A session can be created here (cpu, webgpu) or its libraries are present (cuda). */
  available: boolean;
  adapter?: AdapterInfo;
  /** Why it is not available. */
  reason?: string;
  /** The micro-benchmark: the embedded model's decoding step (median), ms; absent where not usable or --no-bench. */
  bench?: { stepMs: number; steps: number; loadMs: number };
}

export interface DoctorReport {
  platform: string;
  providers: DoctorProvider[];
  auto: { picked: string; reason: string };
  cuda: CudaStatus;
  placement?: Placement;
}

/** Decoding steps of the embedded model on `device` for at most `budgetMs` (model load included), after a prefill. */
async function microBench(device: DeviceName, budgetMs: number): Promise<DoctorProvider['bench'] | { error: string }> {
  const t0 = performance.now();
  let rt: ModelRuntime | undefined;
  try {
    rt = await ModelRuntime.load(readModelConfig(defaultModelDir()), { device });
    const loadMs = performance.now() - t0;
    const k = 1;
    let out = await rt.forward({ ids: [5, 6, 7, 8, 9, 10, 11, 12], batch: 1, seq: 8, k, past: rt.emptyKv(1), lastRows: 1 });
    const times: number[] = [];
    while (times.length < 64 && (times.length < 2 || performance.now() - t0 < budgetMs)) {
      const s = performance.now();
      out = await rt.forward({ ids: [13 + times.length], batch: 1, seq: 1, k, past: out.kv });
      times.push(performance.now() - s);
    }
    // The first step after the prefill compiles kernels for the new shape on a GPU: the median leaves it out.
    times.sort((a, b) => a - b);
    return { stepMs: round(times[times.length >> 1]!, 3), steps: times.length, loadMs: round(loadMs, 1) };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  } finally {
    await rt?.dispose();
  }
}

export async function runDoctor(opts: { bench: boolean; placement?: { device: DeviceName; modelDir?: string; variant?: string } }): Promise<DoctorReport> {
  const backends = ort.listSupportedBackends();
  let webgpu: AdapterProbe | undefined;
  let cuda: CudaStatus | undefined;
  const probeWebgpu = () => (webgpu ??= probeWebGpuAdapter());
  const probeCuda = () => (cuda ??= cudaStatus());
  const providers: DoctorProvider[] = [{ name: 'cpu', available: true }];
  for (const b of backends) {
    if (b.name === 'cpu' || b.name === 'tensorrt') continue;
    if (b.name === 'webgpu') {
      const w = probeWebgpu();
      providers.push({ name: 'webgpu', available: !!w.adapter, ...(w.adapter ? { adapter: w.adapter } : { reason: w.error }) });
    } else if (b.name === 'cuda') {
      const c = probeCuda();
      providers.push({ name: 'cuda', available: c.available, ...(c.available ? {} : { reason: `missing ${c.missing.map((m) => path.basename(m)).join(', ')}` }) });
    } else {
      providers.push({ name: b.name, available: b.bundled, ...(b.bundled ? {} : { reason: 'not bundled with onnxruntime-node here' }) });
    }
  }
  const choice = chooseAuto(process.platform, { webgpu: probeWebgpu, cuda: probeCuda });
  if (opts.bench) {
    for (const p of providers) {
      if (!p.available) continue;
      const r = await microBench(p.name as DeviceName, 5000);
      if (r && 'error' in r) {
        p.available = false;
        p.reason = `a session could not run here: ${r.error}`;
      } else if (r) p.bench = r;
    }
  }
  const report: DoctorReport = { platform: `${process.platform}-${process.arch}`, providers, auto: { picked: choice.picked, reason: choice.reason }, cuda: probeCuda() };
  if (opts.placement) {
    const dir = opts.placement.modelDir ?? defaultModelDir();
    report.placement = { ...(await measurePlacement(readModelConfig(dir, opts.placement.variant), { device: opts.placement.device })) };
  }
  return report;
}

function printReport(r: DoctorReport): void {
  const lines: string[] = [`platform ${r.platform}`];
  for (const p of r.providers) {
    const adapter = p.adapter ? ` adapter "${p.adapter.name}" (${p.adapter.vendor || 'unknown vendor'}${p.adapter.software ? ', software: runs on the CPU' : ''})` : '';
    const bench = p.bench ? `, decoding step ${p.bench.stepMs} ms (median of ${p.bench.steps}, load ${p.bench.loadMs} ms)` : '';
    lines.push(`${p.name.padEnd(7)} ${p.available ? 'available' : 'not available'}${adapter}${bench}${p.reason ? ` — ${p.reason}` : ''}`);
  }
  lines.push(`auto -> ${r.auto.picked}: ${r.auto.reason}`);
  if (!r.cuda.available) lines.push(`CUDA: missing ${r.cuda.missing.join(', ')}.\n  ${r.cuda.install ?? ''} (README, section GPU)`);
  if (r.placement) {
    lines.push(`placement on ${r.placement.device}:`);
    for (const [prov, n] of Object.entries(r.placement.totals)) lines.push(`  ${prov}: ${n} nodes (${Object.entries(r.placement.providers[prov]).map(([op, c]) => `${op} ${c}`).join(', ')})`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

export async function cmdDoctor(flags: Flags): Promise<number> {
  const eo = engineOptions(flags);
  const report = await runDoctor({
    bench: flags['no-bench'] !== true,
    ...(flags.placement === true ? { placement: { device: eo.device ?? 'auto', modelDir: eo.modelDir, variant: eo.variant } } : {}),
  });
  if (flags.json === true) out(report);
  else printReport(report);
  return 0;
}
