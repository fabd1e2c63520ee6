/**
 * Session creation and the choice of execution provider: which providers onnxruntime-node offers on this platform,
 * the order `device: auto` tries them in, and the errors a failed provider becomes.
 */
import * as ort from 'onnxruntime-node';
import type { DeviceName } from '../../protocol';
import { ModelLoadError } from './config';
import { chooseAuto, cudaStatus } from './devices';
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
  /** Write onnxruntime's profile (one event per node run, with the provider that ran it) to files with this prefix. */
  profilePrefix?: string;
  /** Outputs a WebGPU session leaves in GPU memory (preferredOutputLocation 'gpu-buffer'): the KV cache (deviceKv.ts). */
  gpuOutputs?: string[];
}

/**
 * Creates a session for `modelFile` on the requested device (`auto`: the GPU providers devices.ts finds usable, in
 * order, then the CPU; never a software WebGPU adapter) and hands it, with why that device, to `accept`, which validates it against the model (a ModelLoadError from it is final). A named
 * device that fails is an error naming the provider; `auto` moves on to the next provider.
 */
export async function openSession<T>(
  modelFile: string,
  req: SessionRequest,
  accept: (session: ort.InferenceSession, device: string, tried: ProviderAttempt[], reason: string) => T,
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
    ...(req.profilePrefix ? { enableProfiling: true, profileFilePrefix: req.profilePrefix } : {}),
  };
  const choice = device === 'auto' ? chooseAuto() : undefined;
  if (choice) log('info', `device auto: ${choice.picked} (${choice.reason})`);
  const candidates: string[] = choice ? [...choice.order, 'cpu'] : [device];
  const tried: ProviderAttempt[] = [];
  for (const ep of candidates) {
    try {
      const session = await ort.InferenceSession.create(modelFile, {
        ...base,
        executionProviders: ep === 'cpu' ? ['cpu'] : [ep, 'cpu'],
        ...(ep === 'webgpu' && req.gpuOutputs?.length ? { preferredOutputLocation: Object.fromEntries(req.gpuOutputs.map((n) => [n, 'gpu-buffer' as const])) } : {}),
      });
      tried.push({ name: ep, ok: true });
      log('info', `execution provider ${ep}: session created for ${modelFile}`);
      const reason = !choice ? 'asked for in the settings' : ep === choice.picked ? `auto: ${choice.reason}` : `auto: ${tried.filter((t) => !t.ok).map((t) => `${t.name} failed (${t.error})`).join('; ')}; ${choice.reason}`;
      return accept(session, ep, tried, reason);
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      tried.push({ name: ep, ok: false, error: msg });
      if (e instanceof ModelLoadError) throw e;
      if (device !== 'auto') {
        const providerProblem = ep !== 'cpu' && /execution ?provider|shared library|adapter|cuda|dml|directml|coreml|webgpu|not supported|backend/i.test(msg);
        if (ep === 'cuda') {
          // onnxruntime's own message names one library at best: say everything that is missing and how to get it.
          const c = cudaStatus();
          if (!c.available) throw new ModelLoadError(`execution provider "cuda" is not available here: missing ${c.missing.join(', ')}. ${c.install} (${msg})`);
        }
        if (providerProblem) throw new ModelLoadError(`execution provider "${ep}" is not available here: ${msg}`);
        throw new ModelLoadError(`ONNX model ${modelFile} is corrupt or unreadable: ${msg}`);
      }
      log('info', `execution provider ${ep} unavailable (${msg}); trying the next one`);
      if (ep === 'cpu') throw new ModelLoadError(`ONNX model ${modelFile} could not be loaded: ${msg}`);
    }
  }
  throw new ModelLoadError(`no execution provider could load ${modelFile}`);
}
