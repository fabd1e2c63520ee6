/**
 * A GPU that fails falls back to the CPU once, loudly: the real inference process (dist/server.js) through the real
 * client, with onnxruntime's WebGPU provider made to fail for real:
 * - at session creation: no Vulkan driver at all (VK_ICD_FILENAMES names no driver), so WebGPU finds no adapter;
 *   the process loads the model on the CPU and says why (`gpuFailure` in initialize and diagnostics), no restart;
 * - by a crash while starting on the GPU (the process killed while it loads on SwiftShader): the next start runs on
 *   the CPU with the cause, and the GPU is not tried again until a manual start (a settings change).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InferenceClient, RestartPolicy } from '../../../src/extension/process/client';
import type { CompletionRequest, InitializeParams } from '../../../src/protocol';
import { ROOT } from '../../helpers/paths';
import { noGpuEnv, swiftshaderEnv } from '../../helpers/webgpu';

const SERVER = join(ROOT, 'dist', 'server.js');
const req: CompletionRequest = {
  prefix: 'export function clamp(value: number, min: number, max: number): number {\n  ',
  suffix: '\n}\n',
  languageId: 'typescript',
  path: 'src/util.ts',
  strategy: 'greedy',
  k: 1,
  maxTokens: 8,
  mode: 'line',
  speculative: false,
};

let client: InferenceClient | undefined;
let logs: string[] = [];
function make(init: InitializeParams, env: NodeJS.ProcessEnv): InferenceClient {
  logs = [];
  client = new InferenceClient({
    serverPath: SERVER,
    init: () => init,
    env,
    log: (level, m) => logs.push(`${level} ${m}`),
    policy: new RestartPolicy(3, 60_000, 50, 200),
  });
  return client;
}
const started = () => logs.filter((l) => l.includes('inference process started')).length;

afterEach(async () => {
  await client?.stop();
  client = undefined;
});

describe('GPU failure: falls back to the CPU once', () => {
  it('webgpu without any Vulkan driver: ready on the CPU, the cause in initialize and diagnostics, one process', async () => {
    const c = make({ modelPath: '', device: 'webgpu', workspaceNgrams: false }, noGpuEnv());
    const info = await c.start();
    expect(c.state).toBe('ready');
    expect(info.device).toBe('cpu');
    expect(info.gpuFailure).toMatch(/execution provider "webgpu" is not available here: .*adapter/);
    expect(info.providersTried).toEqual([
      { name: 'webgpu', ok: false, error: info.gpuFailure },
      { name: 'cpu', ok: true },
    ]);
    const d = await c.diagnostics();
    expect(d.device).toBe('cpu');
    expect(d.gpuFailure).toBe(info.gpuFailure);
    expect((await c.complete(req)).drafts.length).toBeGreaterThan(0);
    expect(c.restarts).toBe(0);
    expect(started()).toBe(1);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('GPU failed'))).toBe(true);
  });

  it('the CPU asked for: no fallback, no gpuFailure', async () => {
    const c = make({ modelPath: '', device: 'cpu', workspaceNgrams: false }, noGpuEnv());
    const info = await c.start();
    expect(info.device).toBe('cpu');
    expect(info.gpuFailure).toBeUndefined();
    expect(info.deviceReason).toBe('asked for in the settings');
  });

  it('a process that dies while starting on webgpu: the next start is on the CPU with the cause, and stays there', async () => {
    const c = make({ modelPath: '', device: 'webgpu', workspaceNgrams: false }, { ...swiftshaderEnv() });
    const first = c.start();
    first.catch(() => undefined);
    // Kill it while it loads on the GPU (SwiftShader: the load and warm-up take seconds).
    await new Promise((r) => setTimeout(r, 300));
    expect(c.state).toBe('starting');
    c.kill('SIGKILL');
    await expect(first).rejects.toMatchObject({ code: 'crashed' });
    await readyAgain(c);
    expect(c.info!.device).toBe('cpu');
    expect(c.info!.gpuFailure).toBe('the inference process on webgpu stopped (signal SIGKILL)');
    expect(logs.some((l) => l.includes('starting on the CPU instead of webgpu'))).toBe(true);
    // A later crash on the CPU restarts on the CPU again: the GPU is not retried in a loop.
    c.kill('SIGKILL');
    await readyAgain(c);
    expect(c.info!.device).toBe('cpu');
    expect(c.restarts).toBe(2);
    expect(logs.filter((l) => l.includes('starting on the CPU instead of webgpu')).length).toBe(2);
  });
});

/** Resolves when the client reports ready again (at most 60 s). */
function readyAgain(c: InferenceClient): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`state stayed ${c.state}`)), 60_000);
    const sub = c.onState((s) => {
      if (s === 'ready') {
        clearTimeout(t);
        sub.dispose();
        resolve();
      }
    });
  });
}
