#!/usr/bin/env node
// Fails when a module under src/ imports itself through others (an import cycle). Two graphs are checked:
//  - every relative import and re-export written in the source, `import type` included (a loop of types is still a
//    loop of concepts: decode.ts <-> runtime.ts <-> kvcache.ts was one);
//  - the graph esbuild bundles (type-only imports erased), which is what runs.
// Prints each cycle found, or "no import cycles in N modules under src/". Usage: node scripts/check-cycles.mjs
import * as esbuild from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

async function valueGraph(files) {
  const { metafile } = await esbuild.build({
    absWorkingDir: root,
    entryPoints: files,
    bundle: true,
    write: false,
    outdir: 'out-cycles',
    platform: 'node',
    format: 'esm',
    packages: 'external',
    external: ['vscode'],
    metafile: true,
    logLevel: 'silent',
  });
  const graph = new Map();
  for (const [file, info] of Object.entries(metafile.inputs)) {
    if (!file.startsWith('src/')) continue;
    graph.set(file, info.imports.map((i) => i.path).filter((p) => p.startsWith('src/')));
  }
  return graph;
}

/** Every relative import and re-export, `import type` and `import('…')` included (a text scan of the source). */
function sourceGraph(files) {
  const graph = new Map();
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8');
    const deps = [];
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)|^import\s+'(\.[^']+)'/gm)) {
      const spec = m[1] ?? m[2] ?? m[3];
      let p = relative(root, resolve(root, dirname(f), spec));
      p = files.includes(`${p}.ts`) ? `${p}.ts` : `${p}/index.ts`;
      deps.push(p);
    }
    graph.set(f, deps);
  }
  return graph;
}

/** Elementary cycles, one per strongly connected component (Tarjan), each printed as a path a -> b -> a. */
function findCycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const cycles = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) !== idx.get(v)) return;
    const comp = [];
    let w;
    do {
      w = stack.pop();
      on.delete(w);
      comp.push(w);
    } while (w !== v);
    const self = (graph.get(v) ?? []).includes(v);
    if (comp.length > 1 || self) cycles.push(pathThrough(graph, new Set(comp), v));
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

/** A shortest cycle through `start` inside its component (breadth-first). */
function pathThrough(graph, comp, start) {
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!comp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = prev.get(x)) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const files = sources('src');
const graph = sourceGraph(files);
const seen = new Set();
const cycles = [];
for (const c of [...findCycles(graph), ...findCycles(await valueGraph(files))]) {
  const key = [...c.slice(0, -1)].sort().join(' ');
  if (!seen.has(key)) seen.add(key) && cycles.push(c);
}
for (const c of cycles) console.error(`import cycle: ${c.join(' -> ')}`);
if (cycles.length) {
  console.error(`${cycles.length} import cycle(s) under src/`);
  process.exit(1);
}
console.log(`no import cycles in ${graph.size} modules under src/`);
