/**
 * Session creation and the choice of execution provider: which providers onnxruntime-node offers on this platform,
 * the order `device: auto` tries them in, and the errors a failed provider becomes.
 */
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { DeviceName } from '../../protocol';
import { ModelLoadError } from './config';
import { defaultThreads } from './modelSize';

export type LogFn = (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;

export interface ProviderAttempt {
  name: string;
  ok: boolean;
  error?: string;
}

export interface SessionRequest {
  device?: DeviceName;
  threads?: number;
  log?: LogFn;
}

const VULKAN_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

/** GPU execution providers that onnxruntime-node can offer on each platform, in order of preference. */
export function gpuProvidersFor(platform: NodeJS.Platform): string[] {
  const supported = new Set(ort.listSupportedBackends().map((b) => b.name));
  const wanted = platform === 'win32' ? ['cuda', 'dml', 'webgpu'] : platform === 'darwin' ? ['coreml', 'webgpu'] : ['cuda', 'webgpu'];
  // WebGPU on Linux runs on Vulkan: without a Vulkan loader it cannot find an adapter (and its attempt is noisy).
  const vulkan = platform !== 'linux' || VULKAN_LOADERS.some((f) => existsSync(f));
  return wanted.filter((p) => supported.has(p) && (p !== 'webgpu' || vulkan));
}

/**
 * Creates a session for `modelFile` on the requested device (`auto`: the platform's GPU providers in order, then the
 * CPU) and hands it to `accept`, which validates it against the model (a ModelLoadError from it is final). A named
 * device that fails is an error naming the provider; `auto` moves on to the next provider.
 */
export async function openSession<T>(
  modelFile: string,
  req: SessionRequest,
  accept: (session: ort.InferenceSession, device: string, tried: ProviderAttempt[]) => T,
): Promise<T> {
  const log = req.log ?? (() => undefined);
  const device = req.device ?? 'auto';
  // Provider failures are reported through `log` with their reason; keep onnxruntime's own console quiet.
  ort.env.logLevel = 'fatal';
  const threads = req.threads && req.threads > 0 ? req.threads : defaultThreads(modelFile);
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // onnxruntime-node rejects an explicit undefined: set the key only when a count is given.
    ...(threads ? { intraOpNumThreads: threads } : {}),
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    logSeverityLevel: 3,
  };
  const candidates: string[] = device === 'auto' ? [...gpuProvidersFor(process.platform), 'cpu'] : [device];
  const tried: ProviderAttempt[] = [];
  for (const ep of candidates) {
    try {
      const session = await ort.InferenceSession.create(modelFile, {
        ...base,
        executionProviders: ep === 'cpu' ? ['cpu'] : [ep, 'cpu'],
      });
      tried.push({ name: ep, ok: true });
      log('info', `execution provider ${ep}: session created for ${modelFile}`);
      return accept(session, ep, tried);
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      tried.push({ name: ep, ok: false, error: msg });
      if (e instanceof ModelLoadError) throw e;
      if (device !== 'auto') {
        const providerProblem = ep !== 'cpu' && /execution ?provider|shared library|adapter|cuda|dml|directml|coreml|webgpu|not supported|backend/i.test(msg);
        if (providerProblem) throw new ModelLoadError(`execution provider "${ep}" is not available here: ${msg}`);
        throw new ModelLoadError(`ONNX model ${modelFile} is corrupt or unreadable: ${msg}`);
      }
      log('info', `execution provider ${ep} unavailable (${msg}); trying the next one`);
      if (ep === 'cpu') throw new ModelLoadError(`ONNX model ${modelFile} could not be loaded: ${msg}`);
    }
  }
  throw new ModelLoadError(`no execution provider could load ${modelFile}`);
}
