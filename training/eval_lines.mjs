// Rest-of-line completion quality of a model directory on a JSONL file of {path, prefix, suffix, expected}:
// greedy decoding with the SPM FIM prompt, for the model alone and with static n-gram interpolation.
// Usage: node training/eval_lines.mjs <model dir> <cases.jsonl> [limit]
// Prints per-mode exact match and mean edit similarity as one JSON line (and a summary on stderr).
import fs from "node:fs";
import path from "node:path";
import ort from "onnxruntime-node";
import { plainFeeds } from "./onnx_feeds.mjs";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, casesPath, limitArg] = process.argv.slice(2);
const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")));
const session = await ort.InferenceSession.create(path.join(dir, process.env.SD_MODEL_FILE ?? cfg.superdraft.onnx.default), { intraOpNumThreads: 1 });
const L = cfg.num_hidden_layers, KVH = cfg.num_key_value_heads, HD = cfg.head_dim, V = cfg.vocab_size;
const ids = cfg.superdraft.token_ids;
const EOS = ids["<|endoftext|>"];
const MAX_NEW = 48, MAX_CTX = cfg.max_position_embeddings, SUFFIX_BUDGET = 256;

// ---- ngrams.bin reader (format in models/default/README.md)
const buf = fs.readFileSync(path.join(dir, cfg.superdraft.ngrams));
const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
const tables = [];
{
  const k = dv.getUint32(12, true);
  let off = 32 + 16 * k;
  const al = (x) => (x + 3) & ~3;
  for (let i = 0; i < k; i++) {
    const n = dv.getUint32(32 + 16 * i, true), nc = dv.getUint32(36 + 16 * i, true), ne = dv.getUint32(40 + 16 * i, true);
    const t = { n, nc };
    t.ctx = new Uint16Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + nc * (n - 1) * 2)); off += al(nc * (n - 1) * 2);
    off += al(nc * 4); // totals
    t.offsets = new Uint32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + (nc + 1) * 4)); off += al((nc + 1) * 4);
    t.tokens = new Uint16Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + ne * 2)); off += al(ne * 2);
    t.probs = new Uint16Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + ne * 2)); off += al(ne * 2);
    tables.push(t);
  }
  tables.sort((a, b) => b.n - a.n);
}
function lookup(t, ctx) { // binary search for the context row
  const m = t.n - 1;
  let lo = 0, hi = t.nc - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    let c = 0;
    for (let j = 0; j < m && c === 0; j++) c = t.ctx[mid * m + j] - ctx[j];
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}
function ngramDist(history) {
  for (const t of tables) {
    if (history.length < t.n - 1) continue;
    const c = lookup(t, history.slice(history.length - (t.n - 1)));
    if (c < 0) continue;
    const out = new Map();
    for (let e = t.offsets[c]; e < t.offsets[c + 1]; e++) out.set(t.tokens[e], t.probs[e] / 65535);
    return { n: t.n, dist: out };
  }
  return null;
}

const feeds = plainFeeds({ layers: L, kvHeads: KVH, headDim: HD });
const enc = (s) => (s.length ? tok.encode(s).ids : []);

function prompt(c) {
  const header = [ids["<|file_sep|>"], ...enc(c.path + "\n")];
  const suffix = enc(c.suffix).slice(0, SUFFIX_BUDGET);
  const room = MAX_CTX - MAX_NEW - header.length - 3 - suffix.length;
  const prefix = enc(c.prefix);
  const p = prefix.slice(Math.max(0, prefix.length - room));
  return { tokens: [...header, ids["<|fim_prefix|>"], ids["<|fim_suffix|>"], ...suffix, ids["<|fim_middle|>"], ...p], prefixTokens: p };
}

async function prefill(c) {
  const { tokens, prefixTokens } = prompt(c);
  const out = await session.run(feeds(tokens, null, 0));
  return { tokens, prefixTokens, out, logits: out.logits.data.subarray((tokens.length - 1) * V, tokens.length * V) };
}

// Greedy continuation from a shared prefill (ORT outputs are not mutated, so modes can branch from it).
async function complete(pre, lambda) {
  const { tokens, prefixTokens } = pre;
  let { out, logits } = pre;
  let pos = tokens.length;
  const history = [...prefixTokens];
  const gen = [];
  let text = "";
  for (let s = 0; s < MAX_NEW; s++) {
    let mx = -Infinity; for (let i = 0; i < V; i++) if (logits[i] > mx) mx = logits[i];
    let best = 0, bestP = -1;
    if (lambda > 0) {
      let z = 0; for (let i = 0; i < V; i++) z += Math.exp(logits[i] - mx);
      const ng = ngramDist(history);
      const lam = ng ? Math.min(0.5, lambda * (ng.n - 1)) : 0;
      for (let i = 0; i < V; i++) {
        const p = (1 - lam) * Math.exp(logits[i] - mx) / z + (ng ? lam * (ng.dist.get(i) ?? 0) : 0);
        if (p > bestP) { bestP = p; best = i; }
      }
    } else {
      for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    }
    if (best === EOS) break;
    gen.push(best);
    history.push(best);
    text = tok.decode(gen, { skip_special_tokens: false });
    if (text.includes("\n")) break;
    out = await session.run(feeds([best], out, pos));
    pos++;
    logits = out.logits.data.subarray(0, V);
  }
  const nl = text.indexOf("\n");
  return nl >= 0 ? text.slice(0, nl) : text;
}

function editSim(a, b) {
  if (!a.length && !b.length) return 1;
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]; d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return 1 - d[b.length] / Math.max(a.length, b.length);
}

const cases = fs.readFileSync(casesPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  .slice(0, limitArg ? Number(limitArg) : undefined);
const modes = { model: 0, "model+ngram": Number(process.env.SD_NGRAM_LAMBDA ?? 0.1) };
const res = {};
const t0 = performance.now();
const acc = Object.fromEntries(Object.keys(modes).map((m) => [m, { em: 0, es: 0 }]));
for (const c of cases) {
  const pre = await prefill(c);
  for (const [mode, lambda] of Object.entries(modes)) {
    const pred = (await complete(pre, lambda)).trimEnd();
    const exp = c.expected.trimEnd();
    acc[mode].em += pred === exp ? 1 : 0;
    acc[mode].es += editSim(pred, exp);
  }
}
for (const [mode, { em, es }] of Object.entries(acc)) {
  res[mode] = { exact_match: em / cases.length, edit_similarity: es / cases.length, cases: cases.length };
  console.error(`${mode}: EM ${(100 * em / cases.length).toFixed(1)}%  ES ${(100 * es / cases.length).toFixed(1)}%`);
}
res.seconds = (performance.now() - t0) / 1000;
res.step = cfg.superdraft.training?.step ?? null;
res.model_file = process.env.SD_MODEL_FILE ?? cfg.superdraft.onnx.default;
res.ngram_lambda = modes["model+ngram"];
console.log(JSON.stringify(res));
