/**
 * The GPU code path on a software Vulkan device: onnxruntime's WebGPU execution provider (its WGSL kernels, GPU
 * buffers, host<->device copies) on SwiftShader (scripts/swiftshader.sh), through the real built CLI in child
 * processes, against the CPU provider on the same model:
 * - node placement, counted from onnxruntime's own profile (`doctor --placement`): every MatMul / MatMulNBits /
 *   Softmax / normalisation runs on WebGpuExecutionProvider; the CPU keeps only int64 shape arithmetic (onnxruntime
 *   places shape subgraphs on the CPU by design: their values steer the graph on the host). A silent CPU fallback fails.
 * - logits of a prefill, a decoding step and a batch-2 step within LOGIT_TOLERANCE of the CPU's, the same top token;
 * - every strategy's drafts (`demo`: greedy, greedy + speculative, superposed, beam, sampling under a fixed seed)
 *   equal to the CPU's on the embedded model, and on the prepared q4 (MatMulNBits) replica for all but sampling.
 * - `doctor`: the adapter is SwiftShader and marked software; `auto` resolves to the CPU and says why.
 * Models: the embedded one, the prepared qwen2 replica's fp32 graph and its q4 MatMulNBits graph. Kept small
 * (SwiftShader runs shaders on the CPU): 8-token prefills, 8-token drafts, k = 3.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, REPLICAS } from '../helpers/paths';
import { noGpuEnv, swiftshaderEnv } from '../helpers/webgpu';

const CLI = join(ROOT, 'dist', 'cli.js');
const FILE = join(ROOT, 'test', 'fixtures', 'webgpu', 'counter.py');
/**
 * Largest |logit(webgpu) - logit(cpu)| accepted. WebGPU's kernels sum in another order (tiled MatMul, its own
 * Softmax and normalisations) than the CPU's; measured on these models: at most 0.0025 on logits of magnitude ~12.
 */
const LOGIT_TOLERANCE = 0.01;
/** Ops that are compute, never shape arithmetic: none of them may run on the CPU in a WebGPU session. */
const COMPUTE = /^(MatMul|MatMulNBits|FusedMatMul|Gemm|Softmax|.*Normalization|Attention|GroupQueryAttention|MultiHeadAttention|QuickGelu|Gelu|Sigmoid|Tanh|Erf|Pow|Sqrt|ReduceMean|RotaryEmbedding|Div)$/;

/** onnxruntime-node's CUDA provider library: not on npm; these machines do not have it. */
const CUDA_PROVIDER = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
/** SwiftShader runs every kernel on the CPU: a minute-long test here can take several on 2 shared cores. */
const SLOW = 400_000;
const tmp = mkdtempSync(join(tmpdir(), 'sd-webgpu-'));
let qwen2 = '';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
/** Runs the CLI in a child process (asynchronously: a minute-long synchronous spawn would stall vitest's worker). */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), SLOW - 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
const gpuEnv = () => ({ ...process.env, ...swiftshaderEnv() });
async function json<T>(run: Promise<Run>, what: string): Promise<T> {
  const r = await run;
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

interface Placement {
  device: string;
  providers: Record<string, Record<string, number>>;
  totals: Record<string, number>;
  logits: { top: [number, number][]; sample: number[] }[];
}
interface Doctor {
  providers: { name: string; available: boolean; adapter?: { name: string; vendor: string; software: boolean }; reason?: string; bench?: { stepMs: number; steps: number } }[];
  auto: { picked: string; reason: string };
  placement?: Placement;
}
interface Demo {
  device: string;
  runs: { name: string; drafts: { text: string; score: number }[] }[];
}

beforeAll(async () => {
  swiftshaderEnv(); // fails here, naming what to install, when SwiftShader is missing
  qwen2 = join(tmp, 'qwen2');
  cpSync(join(REPLICAS, 'qwen2'), qwen2, { recursive: true });
  const p = await cli(['model', 'prepare', qwen2], process.env);
  expect(p.code, p.stderr).toBe(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MODELS: { name: string; args: () => string[]; matmul: string }[] = [
  { name: 'embedded model', args: () => [], matmul: 'MatMul' },
  { name: 'qwen2 replica, fp32', args: () => ['--model', qwen2, '--variant', 'fp32'], matmul: 'MatMul' },
  { name: 'qwen2 replica, q4 (MatMulNBits)', args: () => ['--model', qwen2, '--variant', 'q4'], matmul: 'MatMulNBits' },
];

describe('WebGPU on SwiftShader against the CPU', () => {
  for (const m of MODELS) {
    it(`${m.name}: compute nodes on WebGpuExecutionProvider, logits within ${LOGIT_TOLERANCE} of the CPU's`, async () => {
      const gpu = (await json<Doctor>(cli(['doctor', '--json', '--no-bench', '--placement', '--device', 'webgpu', ...m.args()], gpuEnv()), 'webgpu placement')).placement!;
      const cpu = (await json<Doctor>(cli(['doctor', '--json', '--no-bench', '--placement', '--device', 'cpu', ...m.args()], process.env), 'cpu placement')).placement!;
      expect(gpu.device).toBe('webgpu');
      const onGpu = gpu.providers.WebGpuExecutionProvider ?? {};
      const onCpu = gpu.providers.CPUExecutionProvider ?? {};
      // Every matrix product of the CPU session runs on the GPU (the CPU fuses some into FusedMatMul / Gemm).
      const cpuMatmuls = Object.entries(cpu.providers.CPUExecutionProvider).filter(([op]) => /MatMul|Gemm/.test(op)).reduce((s, [, n]) => s + n, 0);
      const gpuMatmuls = Object.entries(onGpu).filter(([op]) => /MatMul|Gemm/.test(op)).reduce((s, [, n]) => s + n, 0);
      expect(onGpu[m.matmul], JSON.stringify(onGpu)).toBeGreaterThan(0);
      expect(gpuMatmuls).toBe(cpuMatmuls);
      expect(onGpu.Softmax).toBeGreaterThan(0);
      const computeOnCpu = Object.keys(onCpu).filter((op) => COMPUTE.test(op));
      expect(computeOnCpu, `compute ops left on the CPU: ${JSON.stringify(onCpu)}`).toEqual([]);
      expect(gpu.totals.CPUExecutionProvider ?? 0).toBeLessThan(0.15 * gpu.totals.WebGpuExecutionProvider);
      expect(cpu.totals.WebGpuExecutionProvider).toBeUndefined();
      // Same forwards, same numbers within the tolerance, same best token.
      expect(gpu.logits.length).toBe(3);
      for (let f = 0; f < 3; f++) {
        const a = cpu.logits[f];
        const b = gpu.logits[f];
        let worst = 0;
        for (let i = 0; i < a.sample.length; i++) worst = Math.max(worst, Math.abs(a.sample[i] - b.sample[i]));
        for (let i = 0; i < a.top.length; i++) worst = Math.max(worst, Math.abs(a.top[i][1] - b.top[i][1]));
        expect(worst, `forward ${f}`).toBeLessThanOrEqual(LOGIT_TOLERANCE);
        expect(worst, `forward ${f}: no difference at all means the GPU did not compute it`).toBeGreaterThan(0);
        if (a.top[0][1] - a.top[1][1] > 2 * LOGIT_TOLERANCE) expect(b.top[0][0]).toBe(a.top[0][0]);
      }
    }, SLOW);
  }

  const demo = (args: string[], env: NodeJS.ProcessEnv, device: string) =>
    json<Demo>(cli(['demo', '--json', '--file', FILE, '--max-tokens', '8', '-k', '3', '--no-copy', '--device', device, ...args], env), `demo on ${device}`);

  it('embedded model: every strategy and speculative greedy give the drafts of the CPU', async () => {
    const gpu = await demo([], gpuEnv(), 'webgpu');
    const cpu = await demo([], process.env, 'cpu');
    expect(gpu.device).toBe('webgpu');
    expect(gpu.runs.map((r) => r.name)).toEqual(['greedy', 'greedy + speculative', 'superposed k=3', 'beam k=3', 'sampling k=3']);
    for (let i = 0; i < cpu.runs.length; i++) {
      const name = cpu.runs[i].name;
      expect(cpu.runs[i].drafts.length, name).toBeGreaterThan(0);
      expect(gpu.runs[i].drafts.map((d) => d.text), name).toEqual(cpu.runs[i].drafts.map((d) => d.text));
      for (let j = 0; j < cpu.runs[i].drafts.length; j++) expect(Math.abs(gpu.runs[i].drafts[j].score - cpu.runs[i].drafts[j].score), name).toBeLessThan(0.01);
    }
  }, SLOW);

  it('q4 replica: greedy, speculative greedy, superposed and beam give the drafts of the CPU', async () => {
    // Sampling is left out here: a random-weight replica's next-token distribution is nearly flat, so a logit
    // difference inside the tolerance can move a nucleus draw across a boundary; the logit test above covers it.
    const args = ['--model', qwen2, '--variant', 'q4'];
    const gpu = await demo(args, gpuEnv(), 'webgpu');
    const cpu = await demo(args, process.env, 'cpu');
    expect(gpu.device).toBe('webgpu');
    for (let i = 0; i < 4; i++) {
      const name = cpu.runs[i].name;
      expect(cpu.runs[i].drafts.length, name).toBeGreaterThan(0);
      expect(gpu.runs[i].drafts.map((d) => d.text), name).toEqual(cpu.runs[i].drafts.map((d) => d.text));
    }
  }, SLOW);
});

describe('the KV cache in device memory', () => {
  it('bench --transfer-only: per decoding step only ids, mask and positions go to the device and only the logits come back', async () => {
    interface Side {
      to_device_bytes_per_step: number;
      to_host_bytes_per_step: number;
    }
    const r = await json<{ kv_transfer: Record<string, unknown> & { kv_on_device: boolean } }>(cli(['bench', '--device', 'webgpu', '--json', '--transfer-only'], gpuEnv()), 'bench');
    const t = r.kv_transfer;
    expect(t.kv_on_device).toBe(true);
    // The embedded model: 6 layers, 1 KV head of 64, vocabulary 8,192 (float32 logits: 32,768 bytes per row).
    for (const context of [64, 256]) {
      const { host_kv: host, device_kv: device } = t[`context_${context}`] as { host_kv: Side; device_kv: Side };
      const kvBytes = 2 * 6 * 1 * context * 64 * 4;
      expect(host.to_device_bytes_per_step, `context ${context}`).toBeGreaterThanOrEqual(kvBytes);
      // ids (8 B), weights (4 B), positions (8 B), the mask (8 B per position) and use_cache flags at most.
      expect(device.to_device_bytes_per_step, `context ${context}`).toBeLessThanOrEqual(8 * (context + 1) + 64);
      expect(device.to_host_bytes_per_step).toBe(8192 * 4);
      expect(host.to_host_bytes_per_step).toBeGreaterThan(device.to_host_bytes_per_step); // + the present_delta.* entries
    }
    // The caches of those steps were dropped: once collected, their GPU buffers are released (at most the selection
    // helper's last outputs may wait for a later collection).
    const g = t.gpu_buffers as { registered_bytes: number; outstanding_after_collection: number };
    expect(g.registered_bytes).toBeGreaterThan(2 * 6 * 256 * 64 * 4 * 4);
    expect(g.outstanding_after_collection).toBeLessThan(g.registered_bytes / 10);
  }, SLOW);
});

describe('superdraft doctor', () => {
  it('on SwiftShader: webgpu is available with a software adapter, auto still picks the CPU and says why, both benchmarked', async () => {
    const d = await json<Doctor>(cli(['doctor', '--json'], gpuEnv()), 'doctor');
    const webgpu = d.providers.find((p) => p.name === 'webgpu')!;
    expect(webgpu.available, JSON.stringify(webgpu)).toBe(true);
    expect(webgpu.adapter!.name).toMatch(/swiftshader/i);
    expect(webgpu.adapter!.software).toBe(true);
    // Never the software adapter (this machine has no CUDA: cpu; one with CUDA would pick cuda).
    expect(d.auto.picked).toBe(existsSync(CUDA_PROVIDER) ? 'cuda' : 'cpu');
    expect(d.auto.reason).toMatch(/software one \(SwiftShader/);
    const cpu = d.providers.find((p) => p.name === 'cpu')!;
    expect(cpu.bench!.stepMs).toBeGreaterThan(0);
    expect(webgpu.bench!.steps).toBeGreaterThanOrEqual(2);
    const cuda = d.providers.find((p) => p.name === 'cuda')!;
    if (!existsSync(CUDA_PROVIDER)) {
      expect(cuda.available).toBe(false);
      expect(cuda.reason).toMatch(/missing libonnxruntime_providers_cuda\.so/);
    }
  }, SLOW);

  it('without a Vulkan driver: no adapter, auto picks the CPU; an explicit webgpu device is a clear error', async () => {
    const d = await json<Doctor>(cli(['doctor', '--json', '--no-bench'], noGpuEnv()), 'doctor');
    const webgpu = d.providers.find((p) => p.name === 'webgpu')!;
    expect(webgpu.available).toBe(false);
    expect(webgpu.reason).toMatch(/adapter/i);
    expect(d.auto).toEqual({ picked: 'cpu', reason: expect.stringMatching(/no usable GPU/) });
    const r = await cli(['complete', '--file', FILE, '--line', '6', '--column', '9', '--device', 'webgpu', '-k', '1', '--max-tokens', '2'], noGpuEnv());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/execution provider "webgpu" is not available here: .*adapter/);
  });

  it('cuda without its provider libraries: the error names every missing file and the install command', async () => {
    if (existsSync(CUDA_PROVIDER)) return; // a machine with CUDA installed: nothing is missing
    const r = await cli(['complete', '--file', FILE, '--line', '6', '--column', '9', '--device', 'cuda', '-k', '1', '--max-tokens', '2'], process.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/execution provider "cuda" is not available here: missing .*libonnxruntime_providers_cuda\.so/);
    expect(r.stderr).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
  });
});
