/**
 * What the machine offers for inference, found outside onnxruntime: the WebGPU adapter (Dawn for Node, the npm
 * package `webgpu`, in a child process), whether onnxruntime-node's CUDA provider and the CUDA libraries it needs are
 * present, and the device `auto` picks from them, with the reason.
 *
 * The adapter reported here is the one Dawn for Node's `requestAdapter({powerPreference: 'high-performance'})` returns.
 * onnxruntime's WebGPU provider embeds its own Dawn and asks for an adapter itself (same Vulkan/D3D12/Metal drivers,
 * same environment such as VK_ICD_FILENAMES), so on a machine with one GPU both see the same one; on a machine with
 * several (an integrated and a discrete GPU) or where the two Dawn builds order adapters differently they can differ,
 * and onnxruntime-node's JavaScript API does not say which it took.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

export interface AdapterInfo {
  /** The adapter's description (driver / device), e.g. "SwiftShader driver 5.0.0". */
  name: string;
  vendor: string;
  architecture: string;
  /** A CPU implementation (SwiftShader, llvmpipe, lavapipe, WARP) or Dawn's fallback adapter: never picked by `auto`. */
  software: boolean;
}

export interface AdapterProbe {
  adapter?: AdapterInfo;
  /** Why there is no adapter (no GPU driver, the probe package missing, the probe failing). */
  error?: string;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|basic render|microsoft basic/i;

/** Whether an adapter description names a CPU implementation. */
export function isSoftwareAdapter(a: { name?: string; vendor?: string; architecture?: string; fallback?: boolean }): boolean {
  return a.fallback === true || SOFTWARE.test(`${a.name ?? ''} ${a.vendor ?? ''} ${a.architecture ?? ''}`);
}

const PROBE_SCRIPT = `
const [mod] = process.argv.slice(1);
import(require('node:url').pathToFileURL(mod).href).then(async ({ create }) => {
  const gpu = create([]);
  const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!a) { process.stdout.write(JSON.stringify({ error: 'no WebGPU adapter (no GPU driver that Dawn can use)' })); process.exit(0); }
  const i = a.info || {};
  process.stdout.write(JSON.stringify({ adapter: { description: i.description, device: i.device, vendor: i.vendor, architecture: i.architecture, fallback: !!(i.isFallbackAdapter ?? a.isFallbackAdapter) } }));
  process.exit(0);
}).catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.message || e) })); process.exit(0); });
`;

/** Where the `webgpu` package is, or undefined when it is not installed. */
function dawnModule(): string | undefined {
  try {
    return require.resolve('webgpu');
  } catch {
    return undefined;
  }
}

/**
 * The WebGPU adapter Dawn for Node finds, asked in a child process (a second Dawn in this process could clash with
 * onnxruntime's, and a broken driver must not take this process down). About 0.3 s.
 */
export function probeWebGpuAdapter(timeoutMs = 15_000): AdapterProbe {
  const mod = dawnModule();
  if (!mod) return { error: 'the WebGPU adapter probe (npm package "webgpu", Dawn for Node) is not installed' };
  const r = spawnSync(process.execPath, ['-e', PROBE_SCRIPT, mod], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  if (r.error) return { error: `the WebGPU adapter probe failed: ${r.error.message}` };
  try {
    const res = JSON.parse(r.stdout) as { error?: string; adapter?: { description?: string; device?: string; vendor?: string; architecture?: string; fallback?: boolean } };
    if (!res.adapter) return { error: res.error ?? 'no WebGPU adapter' };
    const a = res.adapter;
    const name = a.description || a.device || a.architecture || 'unknown adapter';
    return { adapter: { name, vendor: a.vendor ?? '', architecture: a.architecture ?? '', software: isSoftwareAdapter({ ...a, name }) } };
  } catch {
    return { error: `the WebGPU adapter probe ended without an answer (exit ${r.status ?? r.signal}): ${(r.stderr || '').trim().split('\n')[0] ?? ''}` };
  }
}

export interface CudaStatus {
  available: boolean;
  /** The files that are missing (provider libraries, CUDA / cuDNN runtime libraries). */
  missing: string[];
  /** What to do about them (README, section GPU). */
  install?: string;
}

const CUDA_INSTALL =
  "onnxruntime-node's CUDA provider is not on npm: run `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` in the extension's (or this package's) folder; " +
  "the CUDA 12 and cuDNN 9 runtime libraries come from NVIDIA (Debian/Ubuntu: cuda-runtime-12 and cudnn9-cuda-12 from NVIDIA's repository) and must be on the library path (ldconfig or LD_LIBRARY_PATH)";

/** The folder of onnxruntime-node's native binding for this platform (its provider libraries go next to it). */
export function ortBinaryDir(): string {
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

const CUDA_LIBS = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcudnn.so.9'];

/** Libraries the dynamic linker knows (ldconfig's cache), plus files in LD_LIBRARY_PATH's folders. */
function linkerKnows(lib: string): boolean {
  for (const dir of (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) if (existsSync(path.join(dir, lib))) return true;
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const cache = r.status === 0 ? r.stdout : '';
  return cache.includes(lib);
}

/**
 * Whether onnxruntime-node's CUDA provider can load here: its provider libraries (not on npm: fetched from NuGet by
 * onnxruntime-node's install script with ONNXRUNTIME_NODE_INSTALL=cuda12) and the CUDA 12 / cuDNN 9 runtime.
 */
export function cudaStatus(): CudaStatus {
  if (process.platform !== 'linux' && process.platform !== 'win32') return { available: false, missing: [`onnxruntime-node has no CUDA provider on ${process.platform}`] };
  const missing: string[] = [];
  const dir = ortBinaryDir();
  const ext = process.platform === 'win32' ? '.dll' : '.so';
  const pre = process.platform === 'win32' ? '' : 'lib';
  for (const f of [`${pre}onnxruntime_providers_cuda${ext}`, `${pre}onnxruntime_providers_shared${ext}`]) {
    if (!existsSync(path.join(dir, f))) missing.push(path.join(dir, f));
  }
  if (process.platform === 'linux') {
    for (const lib of CUDA_LIBS) if (!linkerKnows(lib)) missing.push(lib);
  }
  return missing.length === 0 ? { available: true, missing } : { available: false, missing, install: CUDA_INSTALL };
}

let liveChoice: AutoChoice | undefined;

export interface AutoChoice {
  /** The execution provider `auto` uses: cuda, dml, coreml, webgpu or cpu. */
  picked: string;
  reason: string;
  /** Providers tried in order before the CPU (the first that creates a session wins). */
  order: string[];
}

/**
 * The device `auto` resolves to: CUDA where its libraries are present, DirectML on Windows, CoreML on macOS, WebGPU
 * where a hardware adapter exists; never a software adapter; else the CPU. `probe` defaults to the live probes.
 */
export function chooseAuto(
  platform: NodeJS.Platform = process.platform,
  probe: { cuda?: () => CudaStatus; webgpu?: () => AdapterProbe } = {},
): AutoChoice {
  // The live probes once per process (~0.3 s for the adapter): every later session of `auto` gets the same answer.
  if (!probe.cuda && !probe.webgpu && platform === process.platform) return (liveChoice ??= chooseAuto(platform, { cuda: cudaStatus, webgpu: probeWebGpuAdapter }));
  const backends = new Set(ort.listSupportedBackends().map((b) => b.name));
  const order: string[] = [];
  const notes: string[] = [];
  if (backends.has('cuda')) {
    const c = (probe.cuda ?? cudaStatus)();
    if (c.available) order.push('cuda');
    else notes.push(`CUDA: missing ${c.missing.map((m) => path.basename(m)).join(', ')}`);
  }
  if (platform === 'win32' && backends.has('dml')) order.push('dml');
  if (platform === 'darwin' && backends.has('coreml')) order.push('coreml');
  if (backends.has('webgpu')) {
    const w = (probe.webgpu ?? probeWebGpuAdapter)();
    if (!w.adapter) notes.push(`WebGPU: ${w.error ?? 'no adapter'}`);
    else if (w.adapter.software) notes.push(`WebGPU: the adapter is a software one (${w.adapter.name}), slower than the CPU provider`);
    else order.push('webgpu');
  }
  if (order.length > 0) {
    const first = order[0];
    const why = first === 'webgpu' ? `a hardware WebGPU adapter` : first === 'cuda' ? 'the CUDA provider and libraries are present' : `the platform's GPU provider`;
    return { picked: first, reason: `${why}${notes.length ? `; ${notes.join('; ')}` : ''}`, order };
  }
  return { picked: 'cpu', reason: notes.length ? `no usable GPU: ${notes.join('; ')}` : 'no GPU execution provider in onnxruntime-node here', order };
}
