// Bundles the extension, the inference process and the CLI. onnxruntime-node stays external
// (native binaries are loaded from node_modules at run time); `vscode` is provided by the host.
import * as esbuild from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const entries = [
  { in: 'src/extension/extension.ts', out: 'extension' },
  { in: 'src/process/server.ts', out: 'server' },
  { in: 'src/cli/main.ts', out: 'cli' },
].filter((e) => existsSync(e.in));

function onnxProto() {
  return readFileSync('src/engine/model/onnx/onnx.proto', 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('//'))
    .join('\n');
}

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
  // The ONNX schema of src/engine/model/onnx/proto.ts, embedded (comment lines dropped: protobufjs needs only the syntax).
  define: { __ONNX_PROTO__: JSON.stringify(onnxProto()) },
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
