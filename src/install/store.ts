/**
 * Installed models: one folder per model under a store folder, each with a manifest (superdraft-model.json:
 * source repository, revision, variant, files and sizes). Work in progress lives in dot folders (.partial/ for
 * downloads being assembled, resumable) and is never listed. The CLI's store is $SUPERDRAFT_MODELS_DIR, else
 * ${XDG_CACHE_HOME:-~/.cache}/superdraft/models; the extension uses its global storage.
 */
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { ModelInstallError } from './errors';

export const MANIFEST = 'superdraft-model.json';
export const PARTIAL_DIR = '.partial';

export interface ModelManifest {
  name: string;
  source: { endpoint: string | null; repo: string; revision: string };
  variant: string;
  preset: string | null;
  files: { path: string; size: number; sha256?: string; unverified?: true }[];
  bytes: number;
  installedAt: string;
}

export interface InstalledModel {
  name: string;
  dir: string;
  bytes: number;
  variant: string;
  source: string;
  manifest: ModelManifest;
}

export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SUPERDRAFT_MODELS_DIR) return path.resolve(env.SUPERDRAFT_MODELS_DIR);
  const cache = env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(cache, 'superdraft', 'models');
}

/** Model names: what a folder can be called on every platform and a setting can hold. */
export function checkModelName(name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name) || name.includes('..')) {
    throw new ModelInstallError('bad_input', `${JSON.stringify(name)} is not a valid model name (lower-case letters, digits, ".", "_" and "-", at most 64)`);
  }
  return name;
}

/** The default name of a repository's model: its name, lower-cased, without an -ONNX suffix. */
export function nameForRepo(repo: string): string {
  return checkModelName(
    repo
      .split('/')[1]
      .toLowerCase()
      .replace(/[-_]onnx$/, '')
      .replace(/[^a-z0-9._-]/g, '-'),
  );
}

function readManifest(dir: string): ModelManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as ModelManifest;
    return typeof m?.name === 'string' && typeof m.source?.repo === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

function describe(dir: string, m: ModelManifest): InstalledModel {
  return { name: m.name, dir, bytes: m.bytes, variant: m.variant, source: `${m.source.repo}@${m.source.revision}`, manifest: m };
}

/** Installed models (folders with a manifest), by name. */
export function listInstalled(store: string): InstalledModel[] {
  if (!existsSync(store)) return [];
  const out: InstalledModel[] = [];
  for (const e of readdirSync(store, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dir = path.join(store, e.name);
    const m = readManifest(dir);
    if (m) out.push(describe(dir, m));
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function findInstalled(store: string, name: string): InstalledModel | undefined {
  const dir = path.join(store, name);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || !existsSync(dir) || !statSync(dir).isDirectory()) return undefined;
  const m = readManifest(dir);
  return m ? describe(dir, m) : undefined;
}

/** Partial downloads (resumable by installing again), by model name, with their bytes on disk. */
export function listPartial(store: string): { name: string; dir: string; bytes: number }[] {
  const root = path.join(store, PARTIAL_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => {
      const dir = path.join(root, e.name);
      let bytes = 0;
      for (const f of readdirSync(dir, { withFileTypes: true, recursive: true })) if (f.isFile()) bytes += statSync(path.join(f.parentPath ?? (f as unknown as { path: string }).path, f.name)).size;
      return { name: e.name, dir, bytes };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The install lock of a model name: <store>/.partial/<name>.lock holding the owner's pid. */
export function lockFile(store: string, name: string): string {
  return path.join(store, PARTIAL_DIR, `${name}.lock`);
}

/** The pid of a live process that holds the install lock of `name`, or undefined (no lock, or its owner is gone). */
export function lockHolder(store: string, name: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile(store, name), 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

/** One install per model name at a time (a CLI and another CLI, or the editor): a lock file with the owner's pid; a dead owner's lock is taken over. */
export function takeLock(store: string, name: string): () => void {
  const file = lockFile(store, name);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = lockHolder(store, name);
      if (pid !== undefined) throw new ModelInstallError('exists', `${name} is being installed by another process (pid ${pid}); wait for it to finish, or stop it`);
      rmSync(file, { force: true });
    }
  }
  throw new ModelInstallError('exists', `cannot take the install lock ${file}`);
}

/** Refuses to touch a model that an install holds the lock on (remove would pull the folder from under it). */
function checkNotInstalling(store: string, name: string): void {
  const pid = lockHolder(store, name);
  if (pid !== undefined) throw new ModelInstallError('exists', `${name} is being installed by another process (pid ${pid}); nothing was removed. Wait for it to finish, or stop it first`);
}

/** Deletes a model's partial download; its bytes, or undefined when there was none. */
export function removePartial(store: string, name: string): number | undefined {
  const p = listPartial(store).find((x) => x.name === name);
  if (!p) return undefined;
  checkNotInstalling(store, name);
  rmSync(p.dir, { recursive: true, force: true });
  return p.bytes;
}

/** Removes an installed model: renamed out of the list first, then deleted, so it is never listed half-removed. */
export function removeInstalled(store: string, name: string): InstalledModel {
  const m = findInstalled(store, name);
  if (!m) {
    const names = listInstalled(store).map((x) => x.name);
    throw new ModelInstallError('not_found', `no installed model named ${JSON.stringify(name)} in ${store}${names.length ? ` (installed: ${names.join(', ')})` : ' (none installed)'}`);
  }
  checkNotInstalling(store, name);
  const trash = path.join(store, `.removing-${name}-${process.pid}-${Date.now()}`);
  renameSync(m.dir, trash);
  rmSync(trash, { recursive: true, force: true });
  return m;
}
