/**
 * One verified, resumable file download through @huggingface/hub (fileDownloadInfo + downloadFile: the resolve
 * redirect, then the storage URL; a resumed download is a slice of the library's blob, i.e. an HTTP Range request).
 * Bytes go to `<dest>.part`; the file gets its final name only when its size and hash match the listing (LFS sha256,
 * or the git blob id for small files). An interrupted download leaves the .part for the next attempt; a hash
 * mismatch deletes it and names the file.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { downloadFile, fileDownloadInfo } from '@huggingface/hub';
import { ModelInstallError, formatBytes } from './errors';
import { RangeIgnoredError, hubError, hubFetch, type HubAccess, type RepoFile } from './hub';

export interface DownloadOptions extends HubAccess {
  repo: string;
  revision: string;
  /** Called with each downloaded chunk's byte count. */
  onBytes?: (n: number) => void;
  /** Called once, first, with the bytes already on disk from an earlier attempt (not downloaded now). */
  onExisting?: (n: number) => void;
}

function hasherFor(f: RepoFile): { hash: Hash; expected: string; kind: string } | undefined {
  if (f.sha256) return { hash: createHash('sha256'), expected: f.sha256, kind: 'sha256' };
  if (f.gitOid && /^[0-9a-f]{40}$/.test(f.gitOid)) {
    const hash = createHash('sha1');
    hash.update(`blob ${f.size}\0`);
    return { hash, expected: f.gitOid, kind: 'git blob id' };
  }
  return undefined;
}

async function hashExisting(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

/** Downloads `f` to `dest` (skipped when `dest` is already there: it was verified before it got its name). */
export async function downloadVerified(f: RepoFile, dest: string, opts: DownloadOptions): Promise<void> {
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
  const check = hasherFor(f);
  if (offset > 0) {
    if (check) await hashExisting(part, check.hash);
    opts.onExisting?.(offset);
  }
  if (offset < f.size) {
    const fetchFn = hubFetch(opts.signal);
    const repo = { type: 'model' as const, name: opts.repo };
    let blob: Blob | null;
    try {
      const info = await fileDownloadInfo({ repo, path: f.path, revision: opts.revision, hubUrl: opts.endpoint, accessToken: opts.token, fetch: fetchFn });
      if (!info) throw new ModelInstallError('not_found', `${opts.repo} lists ${f.path} but the Hub has no such file at ${opts.revision}`);
      if (info.size !== f.size) {
        throw new ModelInstallError('integrity', `${f.path}: the Hub serves ${formatBytes(info.size)} but lists ${formatBytes(f.size)}; the repository changed during the install, run it again`);
      }
      blob = await downloadFile({ repo, path: f.path, revision: opts.revision, hubUrl: opts.endpoint, accessToken: opts.token, fetch: fetchFn, xet: false, downloadInfo: info });
    } catch (e) {
      throw hubError(e, opts.repo, opts.revision, opts);
    }
    if (!blob) throw new ModelInstallError('not_found', `${opts.repo} lists ${f.path} but the Hub has no such file at ${opts.revision}`);
    const out = createWriteStream(part, { flags: 'a' });
    const closed = new Promise<void>((resolve, reject) => {
      out.on('close', resolve);
      out.on('error', reject);
    });
    let written = offset;
    try {
      const body = (offset > 0 ? blob.slice(offset) : blob).stream();
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        if (opts.signal?.aborted) break;
        if (written + chunk.length > f.size) throw new ModelInstallError('integrity', `${f.path}: the server sent more than the ${formatBytes(f.size)} the Hub lists`);
        check?.hash.update(chunk);
        written += chunk.length;
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        opts.onBytes?.(chunk.length);
      }
    } catch (e) {
      out.end();
      await closed.catch(() => undefined);
      if (opts.signal?.aborted) throw new ModelInstallError('cancelled', `download of ${f.path} cancelled`);
      if (e instanceof ModelInstallError) throw e;
      if (e instanceof RangeIgnoredError || (typeof e === 'string' && e.includes('ignored a range request'))) {
        // No resuming from this server: the next attempt starts the file over.
        truncateSync(part, 0);
        throw new ModelInstallError('network', `${f.path}: the server does not resume downloads (it ignored a range request); the file starts over on the next attempt`);
      }
      const why = typeof e === 'string' ? e : e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      throw new ModelInstallError('network', `${f.path}: the download was interrupted after ${formatBytes(written)} of ${formatBytes(f.size)} (${why})`);
    }
    out.end();
    await closed;
    if (opts.signal?.aborted) throw new ModelInstallError('cancelled', `download of ${f.path} cancelled`);
    if (written !== f.size) {
      throw new ModelInstallError('network', `${f.path}: the download ended after ${formatBytes(written)} of ${formatBytes(f.size)}`);
    }
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
