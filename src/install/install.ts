/**
 * Installs a model from the Hub: list the repository, choose the variant, check free disk space (and warn when the
 * model will not fit in memory) before any download, download and verify each file into <store>/.partial/<name>
 * (resumable), check the family from config.json before the large files, run `model prepare` on the folder, write
 * the manifest, and only then rename it to <store>/<name>. A cancel deletes the partial folder; an interrupted
 * download keeps it for the next attempt; a corrupt file is deleted and named.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import * as path from 'node:path';
import { familyOf, MODEL_TYPES } from '../engine/model/config';
import { prepareModel } from '../prepare/prepare';
import { downloadVerified, hasherFor } from './download';
import { ModelInstallError, formatBytes } from './errors';
import { chooseVariant, endpointName, hubError, listRepoFiles, parseRepoRef, type HubAccess, type RepoFile } from './hub';
import { findPreset, memoryNeeded } from './presets';
import { MANIFEST, PARTIAL_DIR, checkModelName, findInstalled, nameForRepo, takeLock, type ModelManifest } from './store';
import { netLimits } from './limits';
import { containedPath } from '../engine/model/modelPaths';
import { printable } from '../protocol/redact';

export interface InstallProgress {
  phase: 'listing' | 'downloading' | 'preparing' | 'done';
  file?: string;
  bytes: number;
  total: number;
  /** Bytes per second over this run's downloads (0 until measurable). */
  rate: number;
  /** Seconds left at that rate (undefined until measurable). */
  eta?: number;
}

export interface InstallOptions extends HubAccess {
  /** A preset name, or owner/repo[@revision]. */
  source: string;
  store: string;
  variant?: string;
  /** Folder name in the store; default the preset's name or the repository's. */
  name?: string;
  /** Prefer GPU variants (q4f16, fp16) when no variant is given. */
  gpu?: boolean;
  /** Attempts per file after a network error, resuming where it stopped (default limits.retries: 2). */
  retries?: number;
  /** Install files the listing gives no hash for (the CLI's --allow-unverified, reported as a warning); the editor never sets it. */
  allowUnverified?: boolean;
  onProgress?: (p: InstallProgress) => void;
  onWarning?: (message: string) => void;
  /** Memory of this machine (default os.totalmem()). */
  memory?: number;
}

export interface InstallResult {
  name: string;
  dir: string;
  variant: string;
  bytes: number;
  /** True when the same repository and variant was already installed (nothing downloaded). */
  already: boolean;
}

interface Stamp {
  repo: string;
  revision: string;
  variant: string;
  files: RepoFile[];
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

function bytesOnDisk(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).size;
  }
  return n;
}

/** Installs a model, stage by stage (see the top of this file). */
export async function installModel(o: InstallOptions): Promise<InstallResult> {
  const preset = findPreset(o.source);
  const { repo, revision } = preset ? { repo: preset.repo, revision: preset.revision } : parseRepoRef(o.source);
  const name = checkModelName(o.name ?? preset?.name ?? nameForRepo(repo));
  const limits = o.limits ?? netLimits();
  const hub: HubAccess = { endpoint: o.endpoint, token: o.token, signal: o.signal, limits };
  const report = (p: InstallProgress): void => o.onProgress?.(p);

  report({ phase: 'listing', bytes: 0, total: 0, rate: 0 });
  const files = await listRepoFiles(repo, revision, hub);
  const choice = chooseVariant(repo, files, o.variant, o.gpu === true);
  const wanted = [...choice.extra, ...choice.onnx];
  const total = wanted.reduce((a, f) => a + f.size, 0);
  checkVerifiable(o, repo, wanted);

  const installed = findInstalled(o.store, name);
  if (installed) {
    const m = installed.manifest;
    if (m.source.repo === repo && m.source.revision === revision && m.variant === choice.variant) {
      return { name, dir: installed.dir, variant: m.variant, bytes: m.bytes, already: true };
    }
    throw new ModelInstallError('exists', `a model named ${name} is already installed at ${installed.dir} (${m.source.repo}@${m.source.revision}, ${m.variant}); remove it first (superdraft model remove ${name}) or choose another name`);
  }
  const final = path.join(o.store, name);
  if (existsSync(final)) throw new ModelInstallError('exists', `${final} already exists and is not an installed model; move it away or choose another name`);

  const weights = choice.onnx.reduce((a, f) => a + f.size, 0);
  const memory = o.memory ?? totalmem();
  if (memoryNeeded(weights) > memory) {
    o.onWarning?.(`${repo} (${choice.variant}) needs about ${formatBytes(memoryNeeded(weights))} of memory to run; this machine has ${formatBytes(memory)}. It may be slow or fail to load; a smaller model or variant (q4) fits better.`);
  }

  mkdirSync(path.join(o.store, PARTIAL_DIR), { recursive: true });
  const release = takeLock(o.store, name);
  try {
    if (existsSync(final)) throw new ModelInstallError('exists', `${name} was installed at ${final} while this install waited; remove it first to install it again`);
    const work = path.join(o.store, PARTIAL_DIR, name);
    const stampFile = workFolder(o.store, work, { repo, revision, variant: choice.variant, files: wanted }, total, choice.variant);
    const downloads = new Downloads(o, hub, work, repo, revision, total, report);
    // config.json first: an unsupported family is refused before the large files.
    const config = choice.extra.find((f) => f.path === 'config.json')!;
    await downloads.fetch(config);
    checkFamily(work, repo);
    for (const f of wanted) if (f !== config) await downloads.fetch(f);

    report({ phase: 'preparing', bytes: total, total, rate: 0 });
    try {
      // A 4-bit CPU model also gets its 8-bit-activation companion (model_q4a8.onnx, a graph sharing the weights
      // file): the engine runs it on the CPU, ~3× faster per decoding step (config.ts chooseModelFile).
      prepareModel(work, { int8Activations: choice.variant === 'q4' });
    } catch (e) {
      rmSync(work, { recursive: true, force: true });
      throw new ModelInstallError('prepare', `${repo} (${choice.variant}) downloaded but could not be prepared: ${(e as Error).message}. Nothing was installed`);
    }
    if (o.signal?.aborted) {
      rmSync(work, { recursive: true, force: true });
      throw new ModelInstallError('cancelled', `install of ${repo} cancelled; nothing was installed`);
    }
    const manifest: ModelManifest = {
      name,
      source: { endpoint: o.endpoint ? endpointName(o.endpoint) : null, repo, revision },
      variant: choice.variant,
      preset: preset?.name ?? null,
      files: wanted.map((f) => ({ path: f.path, size: f.size, ...(f.sha256 ? { sha256: f.sha256 } : {}), ...(hasherFor(f) ? {} : { unverified: true }) })),
      bytes: total,
      installedAt: new Date().toISOString(),
    };
    rmSync(stampFile, { force: true });
    writeFileSync(path.join(work, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    renameSync(work, final);
    report({ phase: 'done', bytes: total, total, rate: 0 });
    return { name, dir: final, variant: choice.variant, bytes: total, already: false };
  } finally {
    release();
  }
}

/** Nothing is downloaded unless every file can be checked (or the caller accepts that it cannot: a warning). */
function checkVerifiable(o: InstallOptions, repo: string, wanted: RepoFile[]): void {
  const unverified = wanted.filter((f) => !hasherFor(f));
  if (unverified.length === 0) return;
  const names = unverified.map((f) => printable(f.path)).join(', ');
  if (!o.allowUnverified) {
    throw new ModelInstallError('unverified', `${repo} lists no sha256 or git blob id for ${names}, so ${unverified.length === 1 ? 'it' : 'they'} cannot be verified; nothing was downloaded (the CLI installs such files with --allow-unverified)`);
  }
  o.onWarning?.(`--allow-unverified: ${names} from ${repo} ${unverified.length === 1 ? 'is' : 'are'} installed UNVERIFIED (the Hub lists no hash for ${unverified.length === 1 ? 'it' : 'them'})`);
}

/**
 * The partial folder of this install: kept from an earlier attempt at the same files (its stamp matches), else
 * started afresh; refused when the disk cannot hold what is still to download. Returns the stamp file's path.
 */
function workFolder(store: string, work: string, stamp: Stamp, total: number, variant: string): string {
  const stampFile = path.join(work, '.source.json');
  if (existsSync(work)) {
    let same = false;
    try {
      same = JSON.stringify(JSON.parse(readFileSync(stampFile, 'utf8'))) === JSON.stringify(stamp);
    } catch {
      same = false;
    }
    if (!same) rmSync(work, { recursive: true, force: true });
  }
  const have = bytesOnDisk(work);
  const free = freeBytes(store);
  if (total - have > free) {
    throw new ModelInstallError('no_space', `not enough disk space in ${store} for ${stamp.repo} (${variant}): it needs ${formatBytes(total - have)} more, ${formatBytes(free)} is free. Nothing was downloaded`);
  }
  mkdirSync(work, { recursive: true });
  writeFileSync(stampFile, JSON.stringify(stamp));
  return stampFile;
}

/** config.json names a family Superdraft runs (else the partial folder goes and the install is refused). */
function checkFamily(work: string, repo: string): void {
  let modelType: string | undefined;
  try {
    modelType = (JSON.parse(readFileSync(path.join(work, 'config.json'), 'utf8')) as { model_type?: string }).model_type;
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw new ModelInstallError('unsupported', `${repo}: config.json is not valid JSON (${(e as Error).message})`);
  }
  if (!familyOf(modelType)) {
    rmSync(work, { recursive: true, force: true });
    throw new ModelInstallError('unsupported', `${repo} is a ${JSON.stringify(modelType ?? null)} model; Superdraft runs ${MODEL_TYPES.join(', ')}. Nothing was installed`);
  }
}

/** The files of one install, downloaded one at a time into the partial folder with retries and progress reports. */
class Downloads {
  private readonly start = Date.now();
  private done = 0;
  /** Bytes already on disk from an earlier attempt: counted as done, not as speed. */
  private resumed = 0;
  private lastReport = 0;

  constructor(
    private readonly o: InstallOptions,
    private readonly hub: HubAccess,
    private readonly work: string,
    private readonly repo: string,
    private readonly revision: string,
    private readonly total: number,
    private readonly report: (p: InstallProgress) => void,
  ) {}

  private progress(file: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastReport < 100) return;
    this.lastReport = now;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0.2 ? (this.done - this.resumed) / secs : 0;
    this.report({ phase: 'downloading', file, bytes: this.done, total: this.total, rate, eta: rate > 0 ? (this.total - this.done) / rate : undefined });
  }

  /** Downloads and verifies `f`; a network error is retried (resuming) up to the retry limit, a cancel removes the folder. */
  async fetch(f: RepoFile): Promise<void> {
    const { o, hub, work, repo, revision } = this;
    const limits = hub.limits!;
    const retries = o.retries ?? limits.retries;
    for (let attempt = 0; ; attempt++) {
      const before = this.done;
      try {
        await downloadVerified(f, containedPath(work, f.path, `the listed file`), {
          ...hub,
          allowUnverified: o.allowUnverified,
          repo,
          revision,
          onExisting: (n) => {
            this.done += n;
            this.resumed += n;
          },
          onBytes: (n) => {
            this.done += n;
            this.progress(f.path);
          },
        });
        this.progress(f.path, true);
        return;
      } catch (e) {
        const err = e instanceof ModelInstallError ? e : hubError(e, repo, revision, hub);
        if (o.signal?.aborted || (err instanceof ModelInstallError && err.code === 'cancelled')) {
          rmSync(work, { recursive: true, force: true });
          throw new ModelInstallError('cancelled', `install of ${repo} cancelled; nothing was installed`);
        }
        if (!(err instanceof ModelInstallError) || err.code !== 'network' || attempt >= retries) {
          if (err instanceof ModelInstallError && err.code === 'network') {
            throw new ModelInstallError('network', `${err.message}. ${formatBytes(bytesOnDisk(work))} are kept in ${work}: run the same install again to resume`);
          }
          throw err;
        }
        this.resumed -= Math.min(this.resumed, this.done - before);
        this.done = before;
        await new Promise((r) => setTimeout(r, limits.backoffMs * (attempt + 1)));
      }
    }
  }
}
