/** The files of a model directory that `prepare` reads: its ONNX graphs and the external data they refer to. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { externalTensors, type Model } from '../engine/model/onnx/proto';
import { checkContained, containedPath } from '../engine/model/modelPaths';
import { PrepareError } from './report';

/** ONNX files of a model directory: onnx/*.onnx (Hub layout) and *.onnx at the top. */
export function onnxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ['', 'onnx']) {
    const d = path.join(dir, sub);
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    for (const f of readdirSync(d).sort()) {
      // A graph that is a symlink out of the folder is refused (the one path policy, engine/model/modelPaths.ts).
      if (f.endsWith('.onnx') && statSync(path.join(d, f)).isFile()) out.push(checkContained(dir, path.join(d, f), 'the ONNX file'));
    }
  }
  return out;
}

/** External data files a graph refers to, each checked to hold every tensor's bytes. */
export function checkExternalData(file: string, model: Model): { file: string; bytes: number }[] {
  const need = new Map<string, { end: number; tensor: string }>();
  for (const { tensor: t, entries } of externalTensors(model)) {
    const loc = entries.get('location');
    if (!loc) throw new PrepareError(`${file}: tensor ${t.name} is stored externally but names no location`);
    const end = Number(entries.get('offset') ?? 0) + Number(entries.get('length') ?? 0);
    const prev = need.get(loc);
    if (!prev || end > prev.end) need.set(loc, { end, tensor: t.name });
  }
  const files: { file: string; bytes: number }[] = [];
  for (const [loc, { end, tensor }] of need) {
    let f: string;
    try {
      // The one path policy: inside the graph's folder, symlinks followed (onnxruntime refuses such paths too).
      f = containedPath(path.dirname(file), loc, `${file}: tensor ${tensor}'s external data location`);
    } catch (e) {
      throw new PrepareError((e as Error).message);
    }
    if (!existsSync(f)) throw new PrepareError(`${file}: external data file ${f} is missing`);
    const size = statSync(f).size;
    if (size < end) throw new PrepareError(`${file}: external data file ${f} is truncated (${size} bytes; tensor ${tensor} ends at byte ${end})`);
    files.push({ file: f, bytes: size });
  }
  return files;
}
