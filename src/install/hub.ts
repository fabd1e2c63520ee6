/**
 * The Hub side of an install, through @huggingface/hub: the endpoint (HF_ENDPOINT for mirrors and air-gapped
 * setups), the repository's file listing with its LFS metadata, the choice of one ONNX variant with its external
 * data, and Hub errors turned into messages that name the repository and the fix. The token is passed to the
 * library only; no message here contains it.
 */
import { existsSync } from 'node:fs';
import { HUB_URL, HubApiError, listFiles } from '@huggingface/hub';
import { ModelInstallError, formatBytes } from './errors';
import { variantOrder } from './presets';

export interface HubAccess {
  /** Base URL of the Hub or a mirror; undefined = the public Hub. */
  endpoint?: string;
  token?: string;
  signal?: AbortSignal;
}

export interface RepoFile {
  path: string;
  size: number;
  /** The LFS object's sha256 (large files). */
  sha256?: string;
  /** The git blob id (sha1 of "blob <size>\0<content>"), for files kept in git. */
  gitOid?: string;
}

/** HF_ENDPOINT without a trailing slash, or undefined when unset. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const e = env.HF_ENDPOINT?.trim();
  return e ? e.replace(/\/+$/, '') : undefined;
}

/** The endpoint as shown in messages and manifests: credentials in the URL (user:password@) are left out. */
export function endpointName(endpoint: string | undefined): string {
  if (!endpoint) return HUB_URL;
  try {
    const u = new URL(endpoint);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return endpoint;
  }
}

/** "owner/repo" or "owner/repo@revision"; a bad one is a bad_input error naming it. */
export function parseRepoRef(ref: string): { repo: string; revision: string } {
  const m = /^([A-Za-z0-9][\w.-]*\/[\w.-]+?)(?:@([\w./-]+))?$/.exec(ref.trim());
  if (!m || m[1].includes('..')) {
    throw new ModelInstallError('bad_input', `${JSON.stringify(ref)} is neither a preset nor a Hub repository (owner/name or owner/name@revision)`);
  }
  return { repo: m[1], revision: m[2] ?? 'main' };
}

/** A server answered a resumed download (a Range request) with the whole file. */
export class RangeIgnoredError extends Error {}

/** A fetch that carries the abort signal, and refuses a server that answers a range request with the whole file. */
export function hubFetch(signal: AbortSignal | undefined): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, { ...init, signal });
    const range = new Headers(init?.headers).get('range');
    if (range && range !== 'bytes=0-0' && res.status === 200) {
      await res.body?.cancel();
      throw new RangeIgnoredError(`the server ignored a range request (${range})`);
    }
    return res;
  };
}

/** Every file of the repository at the revision (directories left out). */
export async function listRepoFiles(repo: string, revision: string, hub: HubAccess): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  try {
    for await (const e of listFiles({ repo: { type: 'model', name: repo }, revision, recursive: true, hubUrl: hub.endpoint, accessToken: hub.token, fetch: hubFetch(hub.signal) })) {
      if (e.type !== 'file') continue;
      out.push({ path: e.path, size: e.lfs?.size ?? e.size, sha256: e.lfs?.oid, gitOid: e.lfs ? undefined : e.oid });
    }
  } catch (err) {
    throw hubError(err, repo, revision, hub);
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** A Hub or network error as a ModelInstallError naming the repository (never the token). */
export function hubError(err: unknown, repo: string, revision: string, hub: HubAccess): Error {
  if (err instanceof ModelInstallError) return err;
  if (hub.signal?.aborted) return new ModelInstallError('cancelled', `install of ${repo} cancelled`);
  const where = endpointName(hub.endpoint);
  if (err instanceof HubApiError) {
    const hubSays = typeof err.data?.error === 'string' ? err.data.error : '';
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
    return new ModelInstallError('network', `${where} answered ${err.statusCode} for ${repo}${hubSays ? `: ${hubSays}` : ''}`);
  }
  if (err instanceof TypeError && /access token must start with/.test(err.message)) {
    return new ModelInstallError('bad_input', 'the Hugging Face token does not look like one (a token starts with hf_); check HF_TOKEN or set the token again');
  }
  const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
  return new ModelInstallError('network', `cannot reach ${where} for ${repo}: ${cause}`);
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
