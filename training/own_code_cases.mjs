#!/usr/bin/env node
// Rest-of-line cases from this repository's own code (TypeScript, JavaScript, Python written here: never in the
// embedded model's training corpus, so the model sees it as it sees a user's repository), in the format of
// `superdraft eval --cases`. Deterministic: lines with content at a fixed stride, the cursor at a seeded random
// place inside the line's text (as a user's cursor is mid-line), the rest of the line expected. With --boundary the
// cursor is never inside a word (between two characters that are not both identifier characters), the placement of
// line-completion benchmarks.
//   node training/own_code_cases.mjs [count] [--boundary] > cases.jsonl
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const boundary = argv.includes('--boundary');
const count = Number(argv.find((a) => !a.startsWith('--')) ?? 400);
const isWord = (ch) => /[A-Za-z0-9_]/.test(ch);
const LANG = { '.ts': 'typescript', '.mjs': 'javascript', '.js': 'javascript', '.py': 'python' };
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (LANG[path.extname(name)] && !name.endsWith('.d.ts')) files.push(p);
  }
};
for (const d of ['src', 'test', 'training', 'scripts', 'media', 'bench']) walk(path.join(ROOT, d));
const STEP = 7;
let seed = 20261130;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const cases = [];
for (let round = 0; cases.length < count && round < STEP; round++) {
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (text.length > 200_000) continue;
    const lines = text.split('\n');
    for (let i = 10 + round; i < lines.length && cases.length < count; i += 40) {
      const line = lines[i];
      const indent = line.length - line.trimStart().length;
      const content = line.trimEnd().length - indent;
      if (content < 8) continue;
      let cut = indent + 1 + Math.floor(random() * (content - 4));
      if (boundary) {
        const cuts = [];
        for (let c = indent + 1; c < indent + content - 3; c++) if (!(isWord(line[c - 1]) && isWord(line[c]))) cuts.push(c);
        if (cuts.length === 0) continue;
        cut = cuts[Math.floor(random() * cuts.length)];
      }
      const offset = lines.slice(0, i).join('\n').length + 1 + cut;
      const rel = path.relative(ROOT, f);
      const expected = line.slice(cut).trimEnd();
      cases.push({ id: `${rel}:${i + 1}:${cut + 1}`, language: LANG[path.extname(f)], path: rel, prefix: text.slice(0, offset), suffix: text.slice(offset + expected.length), expected });
    }
  }
}
for (const c of cases) process.stdout.write(JSON.stringify(c) + '\n');
