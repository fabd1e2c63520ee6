#!/usr/bin/env node
// Builds the platform-specific .vsix offline: production esbuild bundles + @vscode/vsce.
//
//   node scripts/package.mjs [--target linux-x64] [--out file.vsix]
//
// The .vsix holds dist/{extension,server}.js, media/, models/default/ and, from node_modules, only
// onnxruntime-node's JS + the target's native binaries and onnxruntime-common's CommonJS build (the
// runtime dependencies the bundle leaves external). .vscodeignore is an allow-list written for linux-x64;
// for another target this script swaps the onnxruntime-node binary folder in a temporary copy of it.
// vsce is run with its stdout piped, so it never asks the registry for its latest version; nothing here
// uses the network.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// vsce target -> onnxruntime-node binary folder (bin/napi-v6/<os>/<arch>)
const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};

// vsce target -> the webgpu package's binary folder (dist/<platform>-<arch>; one universal build for macOS)
const WEBGPU_DIRS = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-arm64': 'darwin-universal',
  'win32-x64': 'win32-x64',
  'win32-arm64': 'win32-arm64',
};

function fail(msg) {
  console.error(`package: ERROR: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { target: `${process.platform}-${process.arch}`, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (!v) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--target') opts.target = val();
    else if (a.startsWith('--target=')) opts.target = a.slice(9);
    else if (a === '--out') opts.out = val();
    else if (a.startsWith('--out=')) opts.out = a.slice(6);
    else if (a === '-h' || a === '--help') {
      console.log(`usage: node scripts/package.mjs [--target ${Object.keys(TARGETS).join('|')}] [--out file.vsix]`);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  return opts;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) fail(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

const opts = parseArgs(process.argv.slice(2));
const ortDir = TARGETS[opts.target];
if (!ortDir) fail(`unsupported target '${opts.target}' (supported: ${Object.keys(TARGETS).join(', ')})`);
const out = resolve(root, opts.out ?? `${pkg.name}-${opts.target}-${pkg.version}.vsix`);
const t0 = Date.now();

// 1. Inputs that must exist before packaging.
const modelDir = join(root, 'models', 'default');
const configPath = join(modelDir, 'config.json');
if (!existsSync(configPath)) {
  fail(`${relative(root, configPath)} is missing: the embedded model must be in models/default (npm run train-model)`);
}
let modelConfig;
try {
  modelConfig = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (e) {
  fail(`${relative(root, configPath)} is not valid JSON: ${e.message}`);
}
const sd = modelConfig.superdraft ?? {};
const needed = new Set(['tokenizer.json']);
if (sd.onnx?.default) needed.add(sd.onnx.default);
else needed.add('model.onnx');
if (sd.ngrams) needed.add(sd.ngrams);
for (const f of needed) {
  if (!existsSync(join(modelDir, f))) fail(`models/default/${f} is missing (named by models/default/config.json)`);
}
const ortBinary = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', ortDir, 'onnxruntime_binding.node');
if (!existsSync(ortBinary)) fail(`${relative(root, ortBinary)} is missing (npm ci installs onnxruntime-node)`);
const vsceBin = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
if (!existsSync(vsceBin)) fail('node_modules/@vscode/vsce is missing (npm ci)');

// 2. Production bundles.
console.log('package: esbuild --production');
let r = run(process.execPath, ['esbuild.mjs', '--production'], { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) fail('esbuild failed');
const mainEntry = resolve(root, pkg.main ?? 'dist/extension.js');
for (const f of [mainEntry, join(root, 'dist', 'server.js')]) {
  if (!existsSync(f)) fail(`${relative(root, f)} was not produced by esbuild`);
}

// 3. Ignore file for this target.
let ignore = readFileSync(join(root, '.vscodeignore'), 'utf8');
const linuxLine = '!node_modules/onnxruntime-node/bin/napi-v6/linux/x64/**';
if (!ignore.includes(linuxLine)) fail(`.vscodeignore must contain the line ${linuxLine}`);
ignore = ignore.replace(linuxLine, `!node_modules/onnxruntime-node/bin/napi-v6/${ortDir}/**`);
const webgpuLine = '!node_modules/webgpu/dist/linux-x64/**';
if (!ignore.includes(webgpuLine)) fail(`.vscodeignore must contain the line ${webgpuLine}`);
const webgpuDir = WEBGPU_DIRS[opts.target];
ignore = ignore.replace(webgpuLine, `!node_modules/webgpu/dist/${webgpuDir}/**`);
// The embedded model: every file of models/default except ONNX graphs other than the default one (the extension
// loads only superdraft.onnx.default; the other variants are for the CLI and would add megabytes).
const modelLine = '!models/default/**';
if (!ignore.includes(modelLine)) fail(`.vscodeignore must contain the line ${modelLine}`);
const defaultOnnx = sd.onnx?.default ?? 'model.onnx';
const modelFiles = readdirSync(modelDir, { withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => e.name)
  .filter((f) => !/\.onnx(\.data|_data)?$/.test(f) || f === defaultOnnx || f.startsWith(`${defaultOnnx}.`) || f.startsWith(`${defaultOnnx}_`));
const skippedModelFiles = readdirSync(modelDir).filter((f) => !modelFiles.includes(f));
ignore = ignore.replace(modelLine, modelFiles.map((f) => `!models/default/${f}`).join('\n'));
const ignoreFile = join(root, '.cache', 'package', `vscodeignore-${opts.target}`);
mkdirSync(dirname(ignoreFile), { recursive: true });
writeFileSync(ignoreFile, ignore);

// 4. vsce (stdout piped: no "latest version" lookup; npm list is local).
const vsceArgs = [vsceBin, 'package', '--target', opts.target, '--out', out, '--ignoreFile', ignoreFile];
// without a repository URL vsce cannot turn README.md's relative links into absolute ones: keep them relative
if (!pkg.repository) vsceArgs.push('--allow-missing-repository', '--no-rewrite-relative-links');
if (!['LICENSE', 'LICENSE.md', 'LICENSE.txt'].some((f) => existsSync(join(root, f)))) vsceArgs.push('--skip-license');
console.log(`package: vsce package --target ${opts.target}`);
r = run(process.execPath, vsceArgs, { env: { ...process.env, npm_config_offline: 'true' }, input: '' });
process.stdout.write(r.stdout);
process.stderr.write(r.stderr);
if (r.status !== 0) fail(`vsce failed (exit ${r.status})`);

// 5. Verify what went in (and what must not).
r = run('unzip', ['-Z1', out]);
if (r.status !== 0) fail(`cannot list ${out}: ${r.stderr}`);
const entries = r.stdout.split('\n').filter(Boolean);
const must = [
  `extension/${relative(root, mainEntry)}`,
  'extension/dist/server.js',
  'extension/package.json',
  'extension/models/default/config.json',
  ...[...needed].map((f) => `extension/models/default/${f}`),
  `extension/node_modules/onnxruntime-node/bin/napi-v6/${ortDir}/onnxruntime_binding.node`,
  'extension/node_modules/onnxruntime-node/dist/index.js',
  'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
  'extension/node_modules/webgpu/index.js',
  `extension/node_modules/webgpu/dist/${webgpuDir}/dawn.node`,
];
const missing = must.filter((m) => !entries.includes(m));
if (missing.length) fail(`the .vsix lacks: ${missing.join(', ')}`);
const forbidden = entries.filter((e) =>
  /^extension\/(src|test|training|scripts|\.cache|\.ci)\//.test(e) ||
  /\.(map|ts)$/.test(e) && !e.endsWith('.d.ts') ||
  (e.includes('/onnxruntime-node/bin/') && !e.includes(`/napi-v6/${ortDir}/`)) ||
  (e.includes('/webgpu/dist/') && !e.includes(`/webgpu/dist/${webgpuDir}/`)),
);
if (forbidden.length) fail(`the .vsix holds files it must not: ${forbidden.slice(0, 10).join(', ')}`);

const size = statSync(out).size;
const summary = {
  vsix: relative(root, out) || out,
  target: opts.target,
  bytes: size,
  size: mib(size),
  files: entries.length,
  seconds: Math.round((Date.now() - t0) / 100) / 10,
  modelFiles,
  skippedModelFiles,
};
writeFileSync(join(dirname(ignoreFile), `summary-${opts.target}.json`), JSON.stringify(summary, null, 2) + '\n');
if (skippedModelFiles.length) console.log(`package: left out ONNX variants other than the default (${defaultOnnx}): ${skippedModelFiles.join(', ')}`);
console.log(`package: ${summary.vsix} ${summary.size} (${summary.files} files, ${summary.seconds}s)`);
