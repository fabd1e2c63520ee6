#!/usr/bin/env node
// npm run test:electron — the integration suite in VS Code desktop via @vscode/test-electron.
// It downloads VS Code (default: SUPERDRAFT_VSCODE_VERSION or 'stable') into .cache/vscode-test unless
// SUPERDRAFT_VSCODE_EXECUTABLE points to an installed VS Code. Without network it stops with a clear message and a
// non-zero exit: offline CI runs the code-server suite instead (npm run test:e2e). On a Linux box without a display
// run it under xvfb: `xvfb-run -a npm run test:electron`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const version = process.env.SUPERDRAFT_VSCODE_VERSION || 'stable';
const say = (m) => console.log(`test:electron: ${m}`);

function fail(msg, code = 1) {
  console.error(`test:electron: ERROR: ${msg}`);
  process.exit(code);
}

let testElectron;
try {
  testElectron = await import('@vscode/test-electron');
} catch (e) {
  fail(`@vscode/test-electron is not installed (npm ci): ${e.message}`);
}

say('building (node esbuild.mjs)');
const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
if (b.status !== 0) fail('esbuild failed');

let executable = process.env.SUPERDRAFT_VSCODE_EXECUTABLE;
if (executable) {
  if (!existsSync(executable)) fail(`SUPERDRAFT_VSCODE_EXECUTABLE=${executable} does not exist`);
  say(`using VS Code at ${executable}`);
} else {
  say(`downloading VS Code ${version} into .cache/vscode-test (needs network access)`);
  try {
    executable = await testElectron.downloadAndUnzipVSCode({ version, cachePath: join(ROOT, '.cache', 'vscode-test'), timeout: 20_000 });
  } catch (e) {
    fail(
      `cannot download VS Code ${version}: ${e?.message ?? e}\n` +
        'This suite needs VS Code desktop, which @vscode/test-electron downloads. Offline, run it where VS Code can be ' +
        'downloaded, or point SUPERDRAFT_VSCODE_EXECUTABLE at an installed VS Code; the offline end-to-end suite is ' +
        '`npm run test:e2e` (code-server).',
      2,
    );
  }
}
if (!existsSync(join(ROOT, 'models', 'default', 'config.json'))) fail('models/default is missing: the embedded model must be trained first (npm run train-model)');
if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  say('warning: no DISPLAY; VS Code desktop needs one (run: xvfb-run -a npm run test:electron)');
}

const tmp = mkdtempSync(join(tmpdir(), 'sd-electron-'));
const workspace = join(tmp, 'workspace');
spawnSync('mkdir', ['-p', workspace]);
writeFileSync(join(workspace, 'sample.py'), 'import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()\n\n\n');
try {
  const code = await testElectron.runTests({
    vscodeExecutablePath: executable,
    extensionDevelopmentPath: ROOT,
    extensionTestsPath: join(ROOT, 'test', 'e2e', 'electron', 'suite', 'index.cjs'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes',
      '--user-data-dir', join(tmp, 'user-data'), '--extensions-dir', join(tmp, 'extensions')],
    extensionTestsEnv: { SUPERDRAFT_TEST_WORKSPACE: workspace },
  });
  process.exitCode = code;
} catch (e) {
  fail(`the suite failed: ${e?.message ?? e}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
