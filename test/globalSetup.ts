/**
 * Builds dist/ (the CLI, the inference process and the extension bundles) once before any test file runs, for the
 * tests that start them as child processes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers/paths';

export default function setup(): void {
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
  for (const bundle of ['cli.js', 'server.js', 'extension.js']) {
    if (!existsSync(path.join(ROOT, 'dist', bundle))) throw new Error(`dist/${bundle} was not built`);
  }
}
