// Micro-benchmark (CPU time) of the n-gram store (src/engine/ngram.ts): static load, dynamic indexing, prompt updates,
// probabilities() as superposed decoding calls it, and draft() as speculative decoding calls it.
// Usage: node bench/ngram-micro.mjs [--model DIR] [--tokens FILE.u16]
//   --tokens: little-endian u16 token ids used as documents/contexts (default: the model's own static table is the
//   only data; synthetic documents are built from its successors).
import * as esbuild from 'esbuild';
import { readFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const modelDir = opt('--model', join(root, 'models', 'default'));
const tokensFile = opt('--tokens', undefined);

const out = join(mkdtempSync(join(tmpdir(), 'sd-ngram-bench-')), 'ngram.cjs');
await esbuild.build({ entryPoints: [join(root, 'src/engine/ngram.ts')], outfile: out, bundle: true, platform: 'node', format: 'cjs', logLevel: 'error' });
const { NgramStore } = createRequire(import.meta.url)(out);

const cfg = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
const vocab = cfg.vocab_size;
const ngramFile = join(modelDir, cfg.superdraft?.ngrams ?? 'ngrams.bin');
const result = { vocab };

// CPU time of this process (user + system), ms: this machine is shared, so wall time would measure the neighbours.
function time(fn, reps = 1) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) fn(i);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

let store;
if (existsSync(ngramFile)) {
  const size = readFileSync(ngramFile).length;
  await NgramStore.loadStatic(ngramFile, vocab); // warm the file cache and JIT
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  store = await NgramStore.loadStatic(ngramFile, vocab);
  const c1 = process.cpuUsage(c0);
  result.static = { file: ngramFile, bytes: size, load_wall_ms: +(performance.now() - t0).toFixed(2), load_cpu_ms: +((c1.user + c1.system) / 1000).toFixed(2) };
} else {
  store = NgramStore.empty(vocab);
  result.static = { file: ngramFile, missing: true };
}

// Token stream: a real token file, or random ids.
let stream;
if (tokensFile) {
  const b = readFileSync(tokensFile);
  stream = new Uint16Array(b.buffer, b.byteOffset, Math.floor(b.length / 2));
} else {
  stream = new Uint16Array(400_000);
  let s = 12345;
  for (let i = 0; i < stream.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    stream[i] = s % vocab;
  }
}
const docTokens = Math.min(300_000, stream.length - 2000);
const docs = 60;
const per = Math.floor(docTokens / docs);

// Dynamic documents: 60 files, 300k tokens in all.
const tIndex = time(() => {
  for (let d = 0; d < docs; d++) store.setDocument(`file${d}.ts`, stream.subarray(d * per, (d + 1) * per));
});
result.dynamic = {
  documents: docs,
  tokens: per * docs,
  index_ms: +tIndex.toFixed(1),
  ns_per_token: Math.round((tIndex * 1e6) / (per * docs)),
  contexts: store.dynamicContexts(),
  table_bytes: store.dynamicBytes(),
  bytes_per_token: Math.round(store.dynamicBytes() / (per * docs)),
};
// Replacing one document after an edit near its end (incremental) vs from scratch.
const docA = stream.subarray(0, per);
const edited = Uint16Array.from(docA);
edited[per - 20] = (edited[per - 20] + 1) % vocab;
result.dynamic.replace_edited_doc_ms = +time(() => store.setDocument('file0.ts', edited)).toFixed(3);
result.dynamic.remove_doc_ms = +time(() => store.removeDocument('file1.ts')).toFixed(3);

// Prompt: 1000 tokens from scratch, then one more token (typing).
const pStart = docTokens + 10;
const prompt = Array.from(stream.subarray(pStart, pStart + 1000));
result.prompt = {
  set_1000_ms: +time(() => store.setPrompt(prompt)).toFixed(3),
  append_1_token_ms: +time(() => store.setPrompt(prompt.concat([stream[pStart + 1000]]))).toFixed(3),
};

// probabilities(): context of 5 tokens, 3k candidates (k = 4 and 16), reusing the output buffer.
for (const k of [4, 16]) {
  const n = 3 * k;
  const cands = new Int32Array(n);
  const outBuf = new Float64Array(n);
  const calls = 50_000;
  let sink = 0;
  const run = (i) => {
    const at = 5 + ((i * 7919) % (stream.length - 10));
    const ctx = stream.subarray(at - 5, at);
    for (let j = 0; j < n; j++) cands[j] = (stream[at] + j * 31) % vocab;
    cands[0] = stream[at];
    const p = store.probabilities(ctx, cands, outBuf);
    sink += p[0];
  };
  time(run, 5000); // warm-up
  const ms = time(run, calls);
  result[`probabilities_k${k}`] = { candidates: n, calls, us_per_call: +((ms * 1000) / calls).toFixed(2), per_decode_step_us: +((ms * 1000 * k) / calls).toFixed(1), sink: +sink.toFixed(3) };
}

// draft(): 8-token context, up to 12 tokens.
{
  const calls = 20_000;
  let drafted = 0;
  const run = (i) => {
    const at = 8 + ((i * 104729) % (docTokens - 10));
    drafted += store.draft(stream.subarray(at - 8, at), 12).length;
  };
  time(run, 2000);
  drafted = 0;
  const ms = time(run, calls);
  result.draft = { calls, us_per_call: +((ms * 1000) / calls).toFixed(2), mean_tokens: +(drafted / calls).toFixed(2) };
}
result.stats = store.stats();
console.log(JSON.stringify(result, null, 2));
