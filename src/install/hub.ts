/**
 * The Hub side of an install: the endpoint (HF_ENDPOINT for mirrors and air-gapped setups), the repository's file
 * listing with its LFS metadata (validated field by field: whoever controls the repository or the mirror chooses
 * it), the choice of one ONNX variant with its external data, and Hub errors turned into messages that name the
 * repository and the fix. Requests go through src/install/net.ts (the token stays on the endpoint's origin, every
 * stall is bounded); no message here contains the token or a URL's credentials.
 */
import { existsSync } from 'node:fs';
import { HUB_URL } from '@huggingface/hub';
import { printable, redact, redactUrl } from '../protocol/redact';
import { ModelInstallError, formatBytes } from './errors';
import { netLimits, type NetLimits } from './limits';
import { NetError, request } from './net';
import { variantOrder } from './presets';

export interface HubAccess {
  /** Base URL of the Hub or a mirror; undefined = the public Hub. */
  endpoint?: string;
  token?: string;
  signal?: AbortSignal;
  /** Time and count limits (default netLimits(): src/install/limits.ts). */
  limits?: NetLimits;
}

export interface RepoFile {
  path: string;
  size: number;
  /** The LFS object's sha256 (large files), lower-case hex. */
  sha256?: string;
  /** The git blob id (sha1 of "blob <size>\0<content>"), for files kept in git, lower-case hex. */
  gitOid?: string;
}

/** HF_ENDPOINT without a trailing slash, or undefined when unset. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const e = env.HF_ENDPOINT?.trim();
  return e ? e.replace(/\/+$/, '') : undefined;
}

/** The endpoint as shown in messages and manifests: credentials (user:password@) and token-like query values left out. */
export function endpointName(endpoint: string | undefined): string {
  if (!endpoint) return HUB_URL;
  return redactUrl(endpoint).replace(/\/+$/, '');
}

/** The endpoint's base URL, checked: http or https, no credentials in it (they would be sent to every host it redirects to). */
export function endpointBase(endpoint: string | undefined): URL {
  let u: URL;
  try {
    u = new URL(endpoint ?? HUB_URL);
  } catch {
    throw new ModelInstallError('bad_input', `HF_ENDPOINT ${JSON.stringify(printable(redact(endpoint ?? '')))} is not a URL (expected http(s)://host[:port][/path])`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ModelInstallError('bad_input', `HF_ENDPOINT ${endpointName(endpoint)} is not an http(s) URL`);
  if (u.username || u.password) {
    throw new ModelInstallError('bad_input', `HF_ENDPOINT ${endpointName(endpoint)} has credentials in it (user:password@), which are never sent; put a token in HF_TOKEN instead`);
  }
  return u;
}

/** The token, checked before any request: a Hugging Face token is hf_ and printable characters, nothing else. */
export function checkToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  if (!/^hf_[\x21-\x7e]+$/.test(token)) {
    const why = /[\s\x00-\x1f\x7f]/.test(token) ? 'it contains a line break, a space or a control character' : 'a token starts with hf_';
    throw new ModelInstallError('bad_input', `the Hugging Face token does not look like one (${why}); check HF_TOKEN or set the token again`);
  }
  return token;
}

/** "owner/repo" or "owner/repo@revision"; a bad one is a bad_input error naming it. */
export function parseRepoRef(ref: string): { repo: string; revision: string } {
  const m = /^([A-Za-z0-9][\w.-]*\/[\w.-]+?)(?:@([\w./-]+))?$/.exec(ref.trim());
  if (!m || m[1].includes('..') || m[2]?.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new ModelInstallError('bad_input', `${JSON.stringify(printable(ref))} is neither a preset nor a Hub repository (owner/name or owner/name@revision)`);
  }
  return { repo: m[1], revision: m[2] ?? 'main' };
}

/** An HTTP status other than 2xx from the Hub, with the Hub's own words (its JSON "error", printable). */
export class HubHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly hubSays: string,
    readonly errorCode: string | undefined,
  ) {
    super(`HTTP ${statusCode}${hubSays ? `: ${hubSays}` : ''}`);
  }
}

/** Reads a non-2xx response into a HubHttpError (its body at most 64 kB). */
export async function statusError(res: import('./net').NetResponse): Promise<HubHttpError> {
  let says = '';
  try {
    const text = await res.text(65_536);
    try {
      const j = JSON.parse(text) as { error?: unknown };
      says = typeof j?.error === 'string' ? j.error : '';
    } catch {
      says = '';
    }
  } catch {
    res.cancel();
  }
  const code = res.headers['x-error-code'];
  return new HubHttpError(res.status, printable(says.slice(0, 300)), typeof code === 'string' ? code : undefined);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(printable(v.slice(0, 60)));
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${printable(String(v)).slice(0, 40)}`;
}

/** The "next" URL of a Link header, or undefined. */
export function linkNext(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(m[2])) return m[1];
  }
  return undefined;
}

const HEX40 = /^[0-9a-f]{40}$/i;
const HEX64 = /^[0-9a-f]{64}$/i;

/** One entry of a tree listing, validated field by field; undefined for a directory. The message names the entry and the field. */
export function parseTreeEntry(e: unknown, i: number, where: string): RepoFile | undefined {
  const bad = (field: string, v: unknown, want: string): ModelInstallError =>
    new ModelInstallError('integrity', `${where}: entry ${i} of the tree listing has ${field} ${describeValue(v)}, expected ${want}`);
  if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad('the value', e, 'an object');
  const o = e as Record<string, unknown>;
  if (typeof o.type !== 'string') throw bad('"type"', o.type, 'a string');
  if (typeof o.path !== 'string' || o.path === '') throw bad('"path"', o.path, 'a non-empty string');
  if (o.type !== 'file') return undefined;
  const size = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(field, v, 'a whole number of bytes ≥ 0');
    return v;
  };
  const file: RepoFile = { path: o.path, size: size(o.size, '"size"') };
  if (o.lfs !== undefined && o.lfs !== null) {
    if (typeof o.lfs !== 'object' || Array.isArray(o.lfs)) throw bad('"lfs"', o.lfs, 'an object');
    const lfs = o.lfs as Record<string, unknown>;
    file.size = size(lfs.size, '"lfs.size"');
    if (lfs.oid !== undefined && (typeof lfs.oid !== 'string' || !HEX64.test(lfs.oid))) throw bad('"lfs.oid"', lfs.oid, 'a sha256 (64 hex digits)');
    if (typeof lfs.oid === 'string') file.sha256 = lfs.oid.toLowerCase();
  } else if (o.oid !== undefined) {
    if (typeof o.oid !== 'string' || !HEX40.test(o.oid)) throw bad('"oid"', o.oid, 'a git blob id (40 hex digits)');
    file.gitOid = o.oid.toLowerCase();
  }
  return file;
}

/**
 * Every file of the repository at the revision (directories left out), page by page (Link: rel="next"): at most
 * limits.maxPages pages, a page URL seen twice is refused, the whole listing within limits.listingMs.
 */
export async function listRepoFiles(repo: string, revision: string, hub: HubAccess): Promise<RepoFile[]> {
  const limits = hub.limits ?? netLimits();
  const base = endpointBase(hub.endpoint);
  const token = checkToken(hub.token);
  const where = `the tree listing of ${repo} on ${endpointName(hub.endpoint)}`;
  const out: RepoFile[] = [];
  const seen = new Set<string>();
  const paths = new Set<string>();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), limits.listingMs);
  const signal = hub.signal ? AbortSignal.any([hub.signal, deadline.signal]) : deadline.signal;
  let url: string | undefined = `${base.toString().replace(/\/+$/, '')}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true&expand=false`;
  try {
    for (let page = 1; url; page++) {
      if (seen.has(url)) throw new ModelInstallError('network', `${where} loops: page ${page} (${redactUrl(url)}) was already read`);
      if (page > limits.maxPages) throw new ModelInstallError('network', `${where} has more than ${limits.maxPages} pages; refused`);
      seen.add(url);
      const res = await request({ url, trustedOrigin: base.origin, token, headers: { Accept: 'application/json' }, signal, limits });
      if (res.status < 200 || res.status >= 300) throw await statusError(res);
      const text = await res.text();
      let items: unknown;
      try {
        items = JSON.parse(text);
      } catch {
        throw new ModelInstallError('integrity', `${where}: page ${page} is not JSON`);
      }
      if (!Array.isArray(items)) throw new ModelInstallError('integrity', `${where}: page ${page} is ${describeValue(items)}, expected a list of entries`);
      const first = out.length;
      items.forEach((e, i) => {
        const f = parseTreeEntry(e, first + i, where);
        if (!f) return;
        if (paths.has(f.path)) throw new ModelInstallError('integrity', `${where} lists ${JSON.stringify(printable(f.path))} twice`);
        paths.add(f.path);
        out.push(f);
      });
      const link = res.headers.link;
      const next = linkNext(Array.isArray(link) ? link.join(', ') : link);
      url = next ? new URL(next, url).toString() : undefined;
    }
  } catch (err) {
    if (deadline.signal.aborted && !hub.signal?.aborted) throw new ModelInstallError('network', `${where} took longer than ${limits.listingMs / 1000} s; refused`);
    throw hubError(err, repo, revision, hub);
  } finally {
    clearTimeout(timer);
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** A Hub or network error as a ModelInstallError naming the repository (never the token or a URL's credentials). */
export function hubError(err: unknown, repo: string, revision: string, hub: HubAccess): Error {
  if (err instanceof ModelInstallError) return err;
  if (hub.signal?.aborted) return new ModelInstallError('cancelled', `install of ${repo} cancelled`);
  const where = endpointName(hub.endpoint);
  if (err instanceof HubHttpError) {
    const hubSays = err.hubSays;
    if (err.statusCode === 404 || /repository not found/i.test(hubSays)) {
      return new ModelInstallError('not_found', `repository ${repo} (revision ${revision}) was not found on ${where}: check the name and the revision${hub.token ? '' : '; a private repository needs a token (HF_TOKEN)'}`);
    }
    if (err.statusCode === 401) {
      return new ModelInstallError(
        'auth',
        hub.token
          ? `${where} refused the token for ${repo} (401): the token is invalid or expired; create a new read token and set it again`
          : `${repo} is gated or private: it needs a Hugging Face token. Accept its terms on its Hub page, then set HF_TOKEN (CLI) or run "Superdraft: Set Hugging Face Token" (VS Code)`,
      );
    }
    if (err.statusCode === 403) {
      return new ModelInstallError('forbidden', `the token has no access to ${repo} (403): accept the model's terms on its Hub page with the token's account, or use a token with read access to it`);
    }
    return new ModelInstallError('network', redact(`${where} answered ${err.statusCode} for ${repo}${hubSays ? `: ${hubSays}` : ''}`, [hub.token]));
  }
  const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
  const kind = err instanceof NetError ? err.kind : 'network';
  return new ModelInstallError('network', printable(redact(`${kind === 'network' ? 'cannot reach' : 'gave up on'} ${where} for ${repo}: ${cause}`, [hub.token])));
}

const CORE = ['config.json', 'tokenizer.json'];
const OPTIONAL = ['tokenizer_config.json', 'generation_config.json'];

export interface VariantChoice {
  variant: string;
  /** The ONNX graph, then its external data files. */
  onnx: RepoFile[];
  /** config.json, tokenizer.json and the optional JSON files present. */
  extra: RepoFile[];
  /** Variants the repository has (for messages and pickers). */
  available: string[];
}

/** Variant name of an ONNX graph path: onnx/model.onnx = fp32, onnx/model_q4.onnx = q4 (also at the root). */
function variantOf(p: string): string | undefined {
  const m = /^(?:onnx\/)?model(?:_([a-z0-9]+))?\.onnx$/.exec(p);
  return m ? (m[1] ?? 'fp32') : undefined;
}

function describe(files: RepoFile[]): string {
  const shown = files.slice(0, 20).map((f) => `${f.path} (${formatBytes(f.size)})`);
  return files.length === 0 ? 'the repository is empty' : `it has ${shown.join(', ')}${files.length > 20 ? ` and ${files.length - 20} more` : ''}`;
}

/** The files to download: config, tokenizer and one ONNX variant with its external data. */
export function chooseVariant(repo: string, files: RepoFile[], wanted: string | undefined, gpu: boolean): VariantChoice {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const graphs = new Map<string, RepoFile>();
  for (const f of files) {
    const v = variantOf(f.path);
    // The onnx/ folder wins over a graph at the root with the same variant.
    if (v && (!graphs.has(v) || f.path.startsWith('onnx/'))) graphs.set(v, f);
  }
  const available = [...graphs.keys()].sort();
  if (graphs.size === 0) {
    throw new ModelInstallError('no_onnx', `${repo} has no ONNX model (onnx/model.onnx or onnx/model_<variant>.onnx): ${describe(files)}. Superdraft runs ONNX exports such as the onnx-community repositories`);
  }
  const missing = CORE.filter((c) => !byPath.has(c));
  if (missing.length > 0) throw new ModelInstallError('no_onnx', `${repo} has ONNX files but no ${missing.join(' and ')}: ${describe(files)}`);
  let variant: string | undefined;
  if (wanted) {
    if (!graphs.has(wanted)) throw new ModelInstallError('bad_input', `${repo} has no ${wanted} variant; it has ${available.join(', ')}`);
    variant = wanted;
  } else {
    variant = variantOrder(gpu).find((v) => graphs.has(v)) ?? available[0];
  }
  const graph = graphs.get(variant)!;
  const data = files.filter((f) => f.path.startsWith(graph.path) && /^(_data(_\d+)?|\.data)$/.test(f.path.slice(graph.path.length)));
  const extra = [...CORE, ...OPTIONAL].flatMap((p) => (byPath.has(p) ? [byPath.get(p)!] : []));
  return { variant, onnx: [graph, ...data], extra, available };
}

/** Whether the variant choice should prefer GPU variants (q4f16, fp16): an explicit GPU device, or 'auto' with an NVIDIA device present. */
export function prefersGpu(device: string | undefined): boolean {
  if (!device || device === 'cpu') return false;
  if (device !== 'auto') return true;
  return process.platform === 'linux' && existsSync('/dev/nvidia0');
}
