// The suite's command line (node test/e2e/run.mjs [--vsix file] [--only 1,3] [--samples 30] [--keep]) and the
// small paths helpers every scenario shares.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RESULTS, ROOT } from './lib/env.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
export const only = opt('--only') ? new Set(opt('--only').split(',').map(Number)) : undefined;
export const SAMPLES = Number(opt('--samples', process.env.SUPERDRAFT_E2E_SAMPLES ?? '30'));
export const keep = args.includes('--keep');

export function findVsix() {
  const explicit = opt('--vsix');
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`--vsix ${explicit} does not exist`);
    return explicit;
  }
  const found = readdirSync(ROOT).filter((f) => /^superdraft-linux-x64-.*\.vsix$/.test(f)).map((f) => join(ROOT, f));
  if (!found.length) throw new Error('no superdraft-linux-x64-*.vsix in the project root: run npm run package');
  return found.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

export const rel = (p) => relative(process.cwd(), p) || p;
export const shot = (name) => join(RESULTS, `${name}.png`);
export const K = 3; // superdraft.drafts default
