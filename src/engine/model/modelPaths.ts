/**
 * The one path policy of model folders. A model folder is untrusted input (a Hub repository's config.json, a graph's
 * external-data locations, a listing's file names, a --variant name): every file it names must resolve inside the
 * folder, symlinks followed, or the model is refused with a message naming the field and the path. The same
 * spellings are refused on every platform: an absolute path, a backslash, a drive letter (C:), an empty name or a
 * NUL. A ".." that stays inside the folder (onnx/../model.onnx) is allowed; one that leaves it is not.
 *
 * Used by the config reader (superdraft.onnx.default, superdraft.onnx.variants, superdraft.ngrams, the variant
 * asked for, tokenizer and config files), prepare and info (ONNX files, external data), the runtime (through the
 * config reader) and the installer (every listed file it writes).
 */
import { existsSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { printable } from '../../protocol/redact';

/** A model that cannot be loaded: its message names the file (and for a path, the field naming it). */
export class ModelLoadError extends Error {}

/** A path a model names that the policy refuses. */
export class ModelPathError extends ModelLoadError {
  constructor(
    readonly field: string,
    readonly named: string,
    message: string,
  ) {
    super(message);
    this.name = 'ModelPathError';
  }
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * `rel` (named by `field`) as a path inside `dir`, or a ModelPathError. When the file (or a folder above it) exists,
 * its real path (symlinks followed) must be inside the real path of `dir` too. The file need not exist.
 */
export function containedPath(dir: string, rel: unknown, field: string): string {
  const shown = typeof rel === 'string' ? JSON.stringify(printable(rel)) : printable(JSON.stringify(rel) ?? String(rel));
  const refuse = (why: string): never => {
    throw new ModelPathError(field, String(rel), `${field} names ${shown}, ${why}; the model is refused (every file a model names must be inside its folder ${printable(dir)})`);
  };
  if (typeof rel !== 'string' || rel === '') return refuse('which is not a file name');
  if (rel.includes('\0')) return refuse('which contains a NUL character');
  if (rel.includes('\\')) return refuse('which contains a backslash (paths in a model use "/" on every platform)');
  if (/^[A-Za-z]:/.test(rel)) return refuse('which starts with a drive letter');
  if (rel.startsWith('/') || path.isAbsolute(rel)) return refuse('which is an absolute path');
  const root = path.resolve(dir);
  const full = path.resolve(root, rel);
  if (!inside(root, full) || full === root) return refuse('which is outside the model folder');
  // Symlinks: the nearest existing ancestor (the file itself when it exists) must really be inside the folder.
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return full;
  }
  let probe = full;
  while (!existsSync(probe) && probe !== root) probe = path.dirname(probe);
  let real: string;
  try {
    real = realpathSync(probe);
  } catch {
    return refuse('which cannot be resolved (a broken or looping symlink)');
  }
  if (!inside(realRoot, real)) return refuse(`which resolves (through a symlink) to ${JSON.stringify(printable(real))}, outside the model folder`);
  return full;
}

/** Like containedPath for a file that already is a full path (a file found by listing the folder). */
export function checkContained(dir: string, file: string, field: string): string {
  return containedPath(dir, path.relative(path.resolve(dir), path.resolve(file)).split(path.sep).join('/'), field);
}
