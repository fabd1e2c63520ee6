#!/usr/bin/env node
// Runs the vitest suite (arguments are passed on) with the default reporter plus a JSON report, then prints one
// summary line, "Tests: N passed, N failed, N skipped", and names every test that did not run. A skipped test is a
// failure under CI (CI set): a test that cannot run on the machine hides a missing install step. Elsewhere it is a
// loud warning.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const report = path.join(root, 'test-results', 'vitest.json');
mkdirSync(path.dirname(report), { recursive: true });
rmSync(report, { force: true });
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
if (!existsSync(report)) {
  console.error(`[tests] vitest wrote no report (${report}); exit ${run.status ?? run.signal}`);
  process.exit(run.status || 1);
}
const r = JSON.parse(readFileSync(report, 'utf8'));
const notRun = [];
for (const file of r.testResults ?? []) {
  for (const t of file.assertionResults ?? []) {
    if (t.status !== 'passed' && t.status !== 'failed') notRun.push(`${path.relative(root, file.name)} > ${t.fullName} (${t.status})`);
  }
}
const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
if (notRun.length > 0) {
  console.error(`\n[tests] ${notRun.length} test(s) did not run${ci ? ' (a failure under CI)' : ''}:`);
  for (const line of notRun) console.error(`  - ${line}`);
  console.error('[tests] a test that cannot run here lacks something on this machine: see the reason printed above it');
}
const failedSuites = (r.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
console.log(`\nTests: ${r.numPassedTests} passed, ${r.numFailedTests + failedSuites} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
if (run.status !== 0) process.exit(run.status || 1);
if (ci && notRun.length > 0) process.exit(1);
