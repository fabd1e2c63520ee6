// The loopback Hugging Face Hub of the unit tests (test/helpers/hubServer.ts, bundled here by esbuild) for the
// editor: the runner starts it before code-server and puts HF_ENDPOINT in code-server's environment. It serves the
// Qwen2.5-Coder replica as the preset's repository, onnx-community/Qwen2.5-Coder-0.5B-Instruct.
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { ROOT } from './env.mjs';

export const HUB_PRESET = 'qwen2.5-coder-0.5b';
export const HUB_REPO = 'onnx-community/Qwen2.5-Coder-0.5B-Instruct';

export async function startLoopbackHub(dir) {
  const out = join(dir, 'loopback-hub.mjs');
  await esbuild.build({ entryPoints: [join(ROOT, 'test', 'helpers', 'hubServer.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning' });
  const { LoopbackHub } = await import(pathToFileURL(out).href);
  const repo = join(dir, 'hub', 'qwen2');
  cpSync(join(ROOT, 'test', 'fixtures', 'replicas', 'qwen2'), repo, { recursive: true });
  const hub = new LoopbackHub({ [HUB_REPO]: { dir: repo } });
  await hub.start();
  return hub;
}
