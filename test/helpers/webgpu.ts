/**
 * WebGPU on the CPU for the tests: the environment scripts/swiftshader.sh sets (the one script tests, CI and users
 * share), read from `scripts/swiftshader.sh --env`. It must be set when a process starts (the dynamic loader reads
 * LD_LIBRARY_PATH once), so WebGPU tests run their work in child processes with it. Throws, never skips, when
 * SwiftShader is missing: npm test installs chromium first (scripts/ensure-chromium.sh).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './paths';

let cached: Record<string, string> | undefined;

export function swiftshaderEnv(): Record<string, string> {
  if (cached) return cached;
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'swiftshader.sh'), '--env'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/swiftshader.sh --env failed (exit ${r.status}): ${r.stderr.trim()}`);
  const env: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  if (!env.VK_ICD_FILENAMES) throw new Error(`scripts/swiftshader.sh --env printed no VK_ICD_FILENAMES: ${r.stdout}`);
  cached = env;
  return env;
}

/** An environment in which the Vulkan loader finds no driver at all, whatever the machine has installed. */
export function noGpuEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, VK_ICD_FILENAMES: join(ROOT, 'test', 'fixtures', 'webgpu', 'no-such-driver.json') };
  delete env.VK_DRIVER_FILES;
  return env;
}
