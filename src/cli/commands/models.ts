/**
 * `superdraft model install | list | remove`: models from the Hugging Face Hub in a store folder
 * ($SUPERDRAFT_MODELS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/superdraft/models; --dir overrides). install prints
 * progress on stderr and, as its last stdout line, the folder it installed to; HF_ENDPOINT selects a mirror and
 * HF_TOKEN is the token for gated repositories (never printed).
 */
import { parseArgs } from 'node:util';
import { formatBytes } from '../../install/errors';
import { hubEndpoint, prefersGpu } from '../../install/hub';
import { installModel } from '../../install/install';
import { PRESETS, VARIANTS, memoryNeeded } from '../../install/presets';
import { defaultStoreDir, findInstalled, listInstalled, listPartial, removeInstalled, removePartial } from '../../install/store';
import { DEVICES } from '../../protocol';
import { UsageError } from '../files';
import { progressBar } from '../progress';
import { setActiveAbort } from '../run';
import { safeMessage } from '../../protocol/redact';

function parse(args: string[], options: Record<string, { type: 'string' | 'boolean' }>): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args, options: { ...options, dir: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export async function cmdModelInstall(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { variant: { type: 'string' }, name: { type: 'string' }, device: { type: 'string' }, 'allow-unverified': { type: 'boolean' } });
  const [source, extra] = positionals;
  if (!source) {
    throw new UsageError(`model install needs a preset (${PRESETS.map((p) => p.name).join(', ')}) or a Hub repository owner/name[@revision]`);
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const variant = values.variant as string | undefined;
  if (variant !== undefined && !/^[a-z0-9]+$/.test(variant)) throw new UsageError(`--variant must be one of ${VARIANTS.join(', ')} (or another variant the repository has), got ${JSON.stringify(variant)}`);
  const device = (values.device as string | undefined) ?? 'auto';
  if (!(DEVICES as readonly string[]).includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got ${JSON.stringify(device)}`);
  const store = (values.dir as string | undefined) ?? defaultStoreDir();
  const endpoint = hubEndpoint();
  const ac = new AbortController();
  setActiveAbort(ac);
  const bar = progressBar();
  try {
    const r = await installModel({
      source,
      store,
      variant,
      name: values.name as string | undefined,
      gpu: prefersGpu(device),
      endpoint,
      token: process.env.HF_TOKEN?.trim() || undefined,
      allowUnverified: values['allow-unverified'] === true,
      signal: ac.signal,
      onProgress: (p) => bar.update(p),
      onWarning: (w) => {
        process.stderr.write(`warning: ${safeMessage(w, [process.env.HF_TOKEN])}\n`);
      },
    });
    bar.end();
    process.stderr.write(r.already ? `${r.name} is already installed (${r.variant}, ${formatBytes(r.bytes)})\n` : `installed ${r.name} (${r.variant}, ${formatBytes(r.bytes)})\n`);
    process.stdout.write(r.dir + '\n');
    return 0;
  } finally {
    bar.end();
    setActiveAbort(null);
  }
}

export function cmdModelList(args: string[]): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, presets: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const store = (values.dir as string | undefined) ?? defaultStoreDir();
  if (values.presets) {
    const rows = PRESETS.map((p) => ({ name: p.name, repo: p.repo, title: p.title, good_for: p.goodFor, variants: Object.fromEntries(Object.entries(p.variants).map(([v, s]) => [v, { bytes: s.bytes + p.extraBytes, memory: memoryNeeded(s.bytes), approximate: s.approximate === true }])) }));
    if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else for (const p of PRESETS) process.stdout.write(`${p.name.padEnd(22)} ${p.repo}  q4 ${formatBytes((p.variants.q4?.bytes ?? 0) + p.extraBytes)}, needs ~${formatBytes(memoryNeeded(p.variants.q4?.bytes ?? 0))} memory: ${p.goodFor}\n`);
    return 0;
  }
  const models = listInstalled(store);
  const partial = listPartial(store);
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        {
          dir: store,
          models: models.map((m) => ({ name: m.name, folder: m.dir, bytes: m.bytes, variant: m.variant, source: m.source, installed_at: m.manifest.installedAt })),
          partial: partial.map((p) => ({ name: p.name, folder: p.dir, bytes: p.bytes })),
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  if (models.length === 0) process.stdout.write(`no models installed in ${store} (superdraft model install ${PRESETS[0].name})\n`);
  for (const m of models) process.stdout.write(`${m.name.padEnd(22)} ${m.variant.padEnd(6)} ${formatBytes(m.bytes).padStart(9)}  ${m.source}  ${m.dir}\n`);
  for (const p of partial) process.stdout.write(`(partial) ${p.name}: ${formatBytes(p.bytes)} downloaded; install it again to resume, or superdraft model remove ${p.name}\n`);
  return 0;
}

export function cmdModelRemove(args: string[]): number {
  const { values, positionals } = parse(args, {});
  const [name, extra] = positionals;
  if (!name) throw new UsageError('model remove needs the name of an installed model (superdraft model list)');
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const store = (values.dir as string | undefined) ?? defaultStoreDir();
  // A partial download of that name goes too; with only a partial download, that is what is removed.
  const partial = findInstalled(store, name) ? undefined : removePartial(store, name);
  if (partial !== undefined) {
    process.stdout.write(`removed the partial download of ${name} (${formatBytes(partial)})\n`);
    return 0;
  }
  const m = removeInstalled(store, name);
  removePartial(store, name);
  process.stdout.write(`removed ${m.name} (${formatBytes(m.bytes)}) from ${m.dir}\n`);
  return 0;
}
