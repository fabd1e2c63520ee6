/**
 * One verified, resumable file download: GET {endpoint}/{repo}/resolve/{revision}/{path} through src/install/net.ts
 * (the resolve redirect to the storage URL is followed there; the token never leaves the endpoint's origin), with an
 * HTTP Range request when a .part is there from an earlier attempt. Bytes go to `<dest>.part`; the file gets its final
 * name only when its size and hash match the listing (LFS sha256, or the git blob id for small files). A file with
 * neither is refused unless the caller allows unverified files (the CLI's --allow-unverified; never the editor).
 * An interrupted download leaves the .part for the next attempt; a hash mismatch deletes it and names the file.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ModelInstallError, formatBytes } from './errors';
import { checkToken, endpointBase, hubError, statusError, type HubAccess, type RepoFile } from './hub';
import { netLimits } from './limits';
import { request } from './net';

export interface DownloadOptions extends HubAccess {
  repo: string;
  revision: string;
  /** Install a file the listing gives no hash for (sha256 or git blob id); default false: refused. */
  allowUnverified?: boolean;
  /** Called with each downloaded chunk's byte count. */
  onBytes?: (n: number) => void;
  /** Called once, first, with the bytes already on disk from an earlier attempt (not downloaded now). */
  onExisting?: (n: number) => void;
}

/** The check a listed file gets: its sha256 (LFS) or its git blob id; undefined when the listing gives neither. */
export function hasherFor(f: RepoFile): { hash: Hash; expected: string; kind: string } | undefined {
  if (f.sha256 && /^[0-9a-f]{64}$/i.test(f.sha256)) return { hash: createHash('sha256'), expected: f.sha256.toLowerCase(), kind: 'sha256' };
  if (f.gitOid && /^[0-9a-f]{40}$/i.test(f.gitOid)) {
    const hash = createHash('sha1');
    hash.update(`blob ${f.size}\0`);
    return { hash, expected: f.gitOid.toLowerCase(), kind: 'git blob id' };
  }
  return undefined;
}

async function hashExisting(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

/** The resolve URL of a file: each path segment encoded. */
export function resolveUrl(base: URL, repo: string, revision: string, file: string): string {
  return `${base.toString().replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Downloads `f` to `dest` (skipped when `dest` is already there: it was verified before it got its name). */
export async function downloadVerified(f: RepoFile, dest: string, opts: DownloadOptions): Promise<void> {
  const check = hasherFor(f);
  if (!check && !opts.allowUnverified) {
    throw new ModelInstallError('unverified', `${f.path}: the Hub lists no sha256 or git blob id for it, so it cannot be verified; refused (the CLI installs it with --allow-unverified)`);
  }
  if (existsSync(dest) && statSync(dest).size === f.size) {
    opts.onExisting?.(f.size);
    return;
  }
  mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let offset = existsSync(part) ? statSync(part).size : 0;
  if (offset > f.size) {
    truncateSync(part, 0);
    offset = 0;
  }
  if (offset > 0) {
    if (check) await hashExisting(part, check.hash);
    opts.onExisting?.(offset);
  }
  if (offset < f.size) {
    const res = await openRange(f, part, offset, opts);
    await appendBody(f, part, res, offset, check, opts);
  } else if (offset === 0 && f.size === 0) {
    writeFileSync(part, '');
  }
  if (check) {
    const got = check.hash.digest('hex');
    if (got !== check.expected) {
      rmSync(part, { force: true });
      throw new ModelInstallError('integrity', `${f.path} is corrupt: its ${check.kind} is ${got}, the Hub lists ${check.expected}. The file was deleted; run the install again`);
    }
  }
  renameSync(part, dest);
}

/** The response that sends `f` from byte `offset` (checked: status, range, size); the .part restarts where it cannot resume. */
async function openRange(f: RepoFile, part: string, offset: number, opts: DownloadOptions): Promise<Awaited<ReturnType<typeof request>>> {
  const limits = opts.limits ?? netLimits();
  const base = endpointBase(opts.endpoint);
  let res;
  try {
    res = await request({
      url: resolveUrl(base, opts.repo, opts.revision, f.path),
      trustedOrigin: base.origin,
      token: checkToken(opts.token),
      headers: offset > 0 ? { Range: `bytes=${offset}-${f.size - 1}` } : {},
      signal: opts.signal,
      limits,
    });
    if (res.status === 404) {
      res.cancel();
      throw new ModelInstallError('not_found', `${opts.repo} lists ${f.path} but the Hub has no such file at ${opts.revision}`);
    }
    if (res.status < 200 || res.status >= 300) throw await statusError(res);
  } catch (e) {
    if (opts.signal?.aborted) throw new ModelInstallError('cancelled', `download of ${f.path} cancelled`);
    const err = hubError(e, opts.repo, opts.revision, opts);
    // A transport failure is worth a retry (resuming): say which file.
    if (err instanceof ModelInstallError && err.code === 'network') throw new ModelInstallError('network', `${f.path}: ${err.message}`);
    throw err;
  }
  if (offset > 0 && res.status === 200) {
    // No resuming from this server: the next attempt starts the file over.
    res.cancel();
    truncateSync(part, 0);
    throw new ModelInstallError('network', `${f.path}: the server does not resume downloads (it ignored a range request); the file starts over on the next attempt`);
  }
  const total = res.status === 206 ? /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''))?.[1] : res.headers['content-length'];
  if (res.status === 206 && !String(res.headers['content-range'] ?? '').startsWith(`bytes ${offset}-`)) {
    res.cancel();
    truncateSync(part, 0);
    throw new ModelInstallError('network', `${f.path}: the server answered the range request from byte ${offset} with another range; the file starts over on the next attempt`);
  }
  if (total !== undefined && Number(total) !== f.size) {
    res.cancel();
    throw new ModelInstallError('integrity', `${f.path}: the Hub serves ${formatBytes(Number(total))} but lists ${formatBytes(f.size)}; the repository changed during the install, run it again`);
  }
  return res;
}

/** Appends the body to the .part (hashing it), bounded by the listed size; a cut body says how far it came. */
async function appendBody(f: RepoFile, part: string, res: Awaited<ReturnType<typeof request>>, offset: number, check: ReturnType<typeof hasherFor>, opts: DownloadOptions): Promise<void> {
  const out = createWriteStream(part, { flags: 'a' });
  const closed = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
  });
  let written = offset;
  try {
    for await (const chunk of res.body) {
      if (opts.signal?.aborted) break;
      if (written + chunk.length > f.size) throw new ModelInstallError('integrity', `${f.path}: the server sent more than the ${formatBytes(f.size)} the Hub lists`);
      check?.hash.update(chunk);
      written += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      opts.onBytes?.(chunk.length);
    }
  } catch (e) {
    res.cancel();
    out.end();
    await closed.catch(() => undefined);
    if (opts.signal?.aborted) throw new ModelInstallError('cancelled', `download of ${f.path} cancelled`);
    if (e instanceof ModelInstallError) {
      if (e.code === 'integrity') rmSync(part, { force: true });
      throw e;
    }
    const why = e instanceof Error ? e.message : String(e);
    throw new ModelInstallError('network', `${f.path}: the download was interrupted after ${formatBytes(written)} of ${formatBytes(f.size)} (${why})`);
  }
  out.end();
  await closed;
  if (opts.signal?.aborted) throw new ModelInstallError('cancelled', `download of ${f.path} cancelled`);
  if (written !== f.size) {
    throw new ModelInstallError('network', `${f.path}: the download ended after ${formatBytes(written)} of ${formatBytes(f.size)}`);
  }
}
