// Bundles the extension, the inference process and the CLI. onnxruntime-node stays external
// (native binaries are loaded from node_modules at run time); `vscode` is provided by the host.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const entries = [
  { in: 'src/extension/extension.ts', out: 'extension' },
  { in: 'src/engine/server.ts', out: 'server' },
  { in: 'src/cli/main.ts', out: 'cli' },
].filter((e) => existsSync(e.in));

const options = {
  entryPoints: entries,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'onnxruntime-node'],
  logLevel: 'warning',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
// The ONNX protobuf schema the graph rewriter (superdraft model prepare) loads at run time.
mkdirSync('dist', { recursive: true });
copyFileSync('src/engine/onnx/onnx.proto', 'dist/onnx.proto');
