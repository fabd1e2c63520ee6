/**
 * A loopback Hugging Face Hub (real node:http on 127.0.0.1) serving model folders the way the Hub does for the
 * requests @huggingface/hub makes: the tree listing (/api/models/{repo}/tree/{rev}, files with git blob ids and LFS
 * {oid: sha256, size}), /{repo}/resolve/{rev}/{path} (small files served directly, LFS files by a 302 to a storage
 * URL), HTTP Range (206), 401/403 for a gated repository without/with a wrong token, 404 with X-Error-Code for a
 * missing repository or file. Faults for tests: cut the connection after N bytes of a file, flip one byte, list a
 * file larger than it is, serve slowly; and a hostile Hub's faults (issue 26): a listing rewritten at will, a Link
 * header of the listing (to itself, to another origin, to a never-ending cursor), a resolve redirect to another
 * origin (with or without X-Cache), bodies that drip a byte at a time, headers then silence, no headers at all.
 * Every request is recorded (method, path, query, Range, whether it had a token).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface HubRepo {
  dir: string;
  gated?: boolean;
  /** Large files are Xet-backed: a resolve that accepts application/vnd.xet-fileinfo+json gets the Xet file info (as the Hub answers) instead of the redirect. */
  xet?: boolean;
}

export interface HubRequest {
  method: string;
  path: string;
  /** The query string, '?' included ('' when none). */
  query: string;
  range?: string;
  authorized: boolean;
  status: number;
}

export interface HubFaults {
  /** Destroy the socket after sending this many bytes of the file's body (once per entry). */
  cut?: { file: string; after: number }[];
  /** Flip the byte at this offset whenever the file is served (the listing keeps the true hash). */
  corrupt?: { file: string; at: number }[];
  /** List this file with this size (and its real hash); used to simulate a disk too small. */
  listedSize?: { file: string; size: number }[];
  /** Answer Range requests for this file (other than the size probe bytes=0-0) with the whole file (200). */
  ignoreRange?: string[];
  /** Send this file in 4 KiB chunks with this delay between them. */
  slow?: { file: string; delayMs: number }[];
  /** Rewrite the tree listing's entries (or replace the whole body) before it is sent. */
  tree?: (entries: Record<string, any>[]) => unknown;
  /** A Link header on the tree listing: the URL given, or computed from the request's URL (path + query). */
  treeLink?: string | ((requestUrl: string) => string | undefined);
  /** Answer the resolve of this file with a 302 to another origin's /storage/ (X-Cache header when given). */
  redirect?: { file: string; origin: string; xCache?: string }[];
  /** Answer any request for this file with this redirect target (Location as given: loops, other schemes). */
  location?: { file: string; to: string }[];
  /** Send this file (after its headers) one byte every intervalMs. */
  drip?: { file: string; intervalMs: number }[];
  /** Send this file's headers, then nothing. */
  stallAfterHeaders?: string[];
  /** Accept the request for this file and never answer (no headers). */
  noHeaders?: string[];
}

const LFS_MIN = 10_000;

function gitOid(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

function walk(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walk(dir, r) : [r];
  });
}

export class LoopbackHub {
  readonly requests: HubRequest[] = [];
  /** Body bytes sent for each file path (resolve and storage responses together). */
  readonly bytesSent = new Map<string, number>();
  faults: HubFaults = {};
  private server: Server;
  private cutsDone = new Set<number>();
  url = '';

  constructor(
    readonly repos: Record<string, HubRepo>,
    readonly token = 'hf_loopbacktesttoken0123456789',
  ) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  reset(): void {
    this.requests.length = 0;
    this.bytesSent.clear();
    this.cutsDone.clear();
    this.faults = {};
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  /** Auth check for a gated repository; returns false after answering 401/403. */
  private allowed(name: string, repo: HubRepo, req: IncomingMessage, res: ServerResponse): boolean {
    if (!repo.gated) return true;
    const auth = req.headers.authorization;
    if (!auth) {
      this.json(res, 401, { error: `Access to model ${name} is restricted. You must have access to it and be authenticated to access it. Please log in.` }, { 'X-Error-Code': 'GatedRepo' });
      return false;
    }
    if (auth !== `Bearer ${this.token}`) {
      this.json(res, 403, { error: `Access to model ${name} is restricted and you are not in the authorized list.` }, { 'X-Error-Code': 'GatedRepo' });
      return false;
    }
    return true;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec: HubRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.search, range: req.headers.range, authorized: !!req.headers.authorization, status: 0 };
    this.requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    res.on('close', () => (rec.status ||= res.statusCode));
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(u.pathname);
    if (m) return this.tree(decodeURIComponent(m[1]), req, res);
    m = /^\/storage\/([^/]+\/[^/]+)\/(.+)$/.exec(u.pathname);
    if (m) return this.serveFile(decodeURIComponent(m[1]), decodeURIComponent(m[2]), req, res);
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(u.pathname);
    if (m) {
      const [name, file] = [decodeURIComponent(m[1]), decodeURIComponent(m[3])];
      const loc = this.faults.location?.find((x) => x.file === file);
      if (loc) {
        res.writeHead(302, { Location: loc.to });
        return void res.end();
      }
      const away = this.faults.redirect?.find((x) => x.file === file);
      if (away) {
        res.writeHead(302, { Location: `${away.origin}/storage/${name}/${file}`, ...(away.xCache ? { 'X-Cache': away.xCache } : {}) });
        return void res.end();
      }
      const repo = this.repos[name];
      if (!repo) return this.json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepositoryNotFound' });
      if (!this.allowed(name, repo, req, res)) return;
      const full = path.join(repo.dir, file);
      let st;
      try {
        st = statSync(full);
      } catch {
        return this.json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
      }
      if (st.size >= LFS_MIN && repo.xet && /application\/vnd\.xet-fileinfo\+json/.test(req.headers.accept ?? '')) {
        const sha = createHash('sha256').update(readFileSync(full)).digest('hex');
        res.writeHead(200, {
          'Content-Type': 'application/vnd.xet-fileinfo+json',
          'X-Linked-Size': String(st.size),
          'X-Linked-ETag': `"${sha}"`,
          'X-Xet-Hash': sha,
          Link: `<${this.url}/api/models/${name}/xet-read-token/main>; rel="xet-auth", <${this.url}/xet/reconstructions/${sha}>; rel="xet-reconstruction-info"`,
        });
        return void res.end(JSON.stringify({ size: st.size, hash: sha }));
      }
      if (st.size >= LFS_MIN) {
        res.writeHead(302, { Location: `/storage/${name}/${file}`, 'X-Linked-Size': String(st.size), 'X-Linked-ETag': `"${file}"` });
        return void res.end();
      }
      return this.serveFile(name, file, req, res);
    }
    this.json(res, 404, { error: 'Not found' });
  }

  private tree(name: string, req: IncomingMessage, res: ServerResponse): void {
    const repo = this.repos[name];
    if (!repo) return this.json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepositoryNotFound' });
    if (!this.allowed(name, repo, req, res)) return;
    const files = walk(repo.dir).sort();
    const dirs = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.slice(0, f.lastIndexOf('/'))))];
    const entries: unknown[] = dirs.map((d) => ({ type: 'directory', oid: gitOid(Buffer.from(d)), size: 0, path: d }));
    for (const f of files) {
      const b = readFileSync(path.join(repo.dir, f));
      const listed = this.faults.listedSize?.find((x) => x.file === f)?.size ?? b.length;
      if (b.length >= LFS_MIN || listed !== b.length) {
        const sha = createHash('sha256').update(b).digest('hex');
        entries.push({ type: 'file', oid: gitOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${listed}\n`)), size: listed, path: f, lfs: { oid: sha, size: listed, pointerSize: 134 } });
      } else {
        entries.push({ type: 'file', oid: gitOid(b), size: b.length, path: f });
      }
    }
    const body = this.faults.tree ? this.faults.tree(entries as Record<string, any>[]) : entries;
    const link = typeof this.faults.treeLink === 'function' ? this.faults.treeLink(req.url ?? '/') : this.faults.treeLink;
    this.json(res, 200, body, link ? { Link: link } : {});
  }

  private serveFile(name: string, file: string, req: IncomingMessage, res: ServerResponse): void {
    const repo = this.repos[name];
    if (!repo) return this.json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepositoryNotFound' });
    let body: Buffer;
    try {
      body = Buffer.from(readFileSync(path.join(repo.dir, file)));
    } catch {
      return this.json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    }
    for (const c of this.faults.corrupt ?? []) if (c.file === file && c.at < body.length) body[c.at] ^= 0xff;
    if (this.faults.noHeaders?.includes(file)) return; // the socket stays open, nothing is sent
    const size = body.length;
    let start = 0;
    let end = size - 1;
    const ignored = this.faults.ignoreRange?.includes(file) && req.headers.range !== 'bytes=0-0';
    const range = ignored ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const headers: Record<string, string> = { ETag: `"${createHash('sha256').update(body).digest('hex')}"`, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` });
        return void res.end();
      }
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': String(end - start + 1) });
    } else {
      res.writeHead(200, { ...headers, 'Content-Length': String(size) });
    }
    const slice = body.subarray(start, end + 1);
    const cutIdx = (this.faults.cut ?? []).findIndex((c, i) => c.file === file && !this.cutsDone.has(i) && slice.length > 1);
    const slow = this.faults.slow?.find((s) => s.file === file);
    const count = (n: number): void => void this.bytesSent.set(file, (this.bytesSent.get(file) ?? 0) + n);
    if (this.faults.stallAfterHeaders?.includes(file)) return void res.flushHeaders();
    const drip = this.faults.drip?.find((d) => d.file === file);
    if (drip) {
      let at = 0;
      const step = (): void => {
        if (res.destroyed) return;
        if (at >= slice.length) return void res.end();
        count(1);
        res.write(slice.subarray(at, ++at));
        setTimeout(step, drip.intervalMs);
      };
      return step();
    }
    if (cutIdx >= 0) {
      this.cutsDone.add(cutIdx);
      const n = Math.min(this.faults.cut![cutIdx].after, slice.length - 1);
      res.write(slice.subarray(0, n), () => {
        count(n);
        req.socket.end(); // FIN after the bytes written (a reset could drop those still in flight)
      });
      return;
    }
    if (slow) {
      let at = 0;
      const step = (): void => {
        if (res.destroyed) return;
        if (at >= slice.length) return void res.end();
        const part = slice.subarray(at, at + 4096);
        at += part.length;
        count(part.length);
        res.write(part);
        setTimeout(step, slow.delayMs);
      };
      return step();
    }
    count(slice.length);
    res.end(slice);
  }
}
