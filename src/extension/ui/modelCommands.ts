/**
 * "Superdraft: Install Model…" (a quick pick of the presets: download size, memory needed, what each is good for,
 * whether it fits this machine; or any Hub repository), "Superdraft: Manage Models…" (switch, remove, open folder)
 * and "Superdraft: Set Hugging Face Token" (SecretStorage). An install runs in a cancellable progress notification
 * with the percentage in the status bar, then switches superdraft.model to the new model (the inference process
 * restarts with progress). HF_ENDPOINT in the editor's environment selects a mirror.
 */
import { totalmem } from 'node:os';
import * as vscode from 'vscode';
import { ModelInstallError, formatBytes } from '../../install/errors';
import { safeMessage } from '../../protocol/redact';
import { endpointName, hubEndpoint, parseRepoRef, prefersGpu } from '../../install/hub';
import { installModel, type InstallResult } from '../../install/install';
import { PRESETS, memoryNeeded, variantOrder, type Preset } from '../../install/presets';
import { listInstalled, removeInstalled, type InstalledModel } from '../../install/store';
import type { Logger } from '../logger';
import { TOKEN_KEY, huggingFaceToken, modelStoreDir } from './modelStore';
import type { SettingsStore } from '../settingsStore';
import { Commands } from './commandIds';
import type { StatusBar } from './statusBar';

function clock(s: number): string {
  const t = Math.max(0, Math.round(s));
  return t >= 3600 ? `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min` : t >= 60 ? `${Math.floor(t / 60)} min ${t % 60} s` : `${t} s`;
}

export class ModelCommands {
  /** The install under way (one at a time). */
  private installing: string | undefined;

  constructor(
    private readonly ctx: vscode.ExtensionContext,
    private readonly settings: SettingsStore,
    private readonly logger: Logger,
    private readonly status: StatusBar,
    /** The execution provider the inference process runs on now (undefined before it is ready). */
    private readonly runningDevice: () => string | undefined,
  ) {}

  /** GPU variants (q4f16, fp16) when a GPU provider runs: the running process tells for "auto"; else the setting. */
  private gpu(): boolean {
    const d = this.settings.current.device;
    const running = this.runningDevice();
    if (d === 'auto' && running) return running !== 'cpu';
    return prefersGpu(d);
  }

  get store(): string {
    return modelStoreDir(this.ctx);
  }

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand(Commands.installModel, (source?: string) => this.install(typeof source === 'string' ? source : undefined)),
      vscode.commands.registerCommand(Commands.manageModels, () => this.manage()),
      vscode.commands.registerCommand(Commands.setHfToken, () => this.setToken()),
    ];
  }

  private presetVariant(p: Preset): { variant: string; bytes: number; approximate: boolean } {
    const v = variantOrder(this.gpu()).find((x) => p.variants[x]) ?? 'q4';
    const s = p.variants[v]!;
    return { variant: v, bytes: s.bytes, approximate: s.approximate === true };
  }

  /** The quick pick of presets (or another Hub repository); returns the source to install, or undefined. */
  private async pickSource(): Promise<string | undefined> {
    type Item = vscode.QuickPickItem & { source?: string; other?: boolean };
    const installed = new Set(listInstalled(this.store).map((m) => m.manifest.source.repo));
    const memory = totalmem();
    const items: Item[] = PRESETS.map((p) => {
      const v = this.presetVariant(p);
      const mem = memoryNeeded(v.bytes);
      const fits = mem <= memory;
      return {
        label: `${fits ? '$(check)' : '$(warning)'} ${p.name}`,
        description: `${p.title}${installed.has(p.repo) ? ' · installed' : ''}`,
        detail: `${v.approximate ? '~' : ''}${formatBytes(v.bytes + p.extraBytes)} download (${v.variant}) · needs ~${formatBytes(mem)} memory · ${fits ? 'fits this machine' : `more than this machine's ${formatBytes(memory)}`} · ${p.goodFor}`,
        source: p.name,
      };
    });
    items.push({ label: '$(search) Another Hugging Face repository…', description: 'owner/name[@revision], ONNX export (onnx/model_q4.onnx …)', other: true });
    const pick = await vscode.window.showQuickPick(items, { title: 'Superdraft: install a model from the Hugging Face Hub', placeHolder: 'Choose a model (✓ fits this machine)', matchOnDescription: true, matchOnDetail: true });
    if (!pick) return undefined;
    if (!pick.other) return pick.source;
    return vscode.window.showInputBox({
      title: 'Superdraft: install a model from the Hugging Face Hub',
      prompt: 'Repository (owner/name, optionally @revision) with an ONNX export',
      placeHolder: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct',
      validateInput: (v) => {
        try {
          parseRepoRef(v);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      },
    });
  }

  async install(source?: string): Promise<InstallResult | undefined> {
    if (this.installing) {
      void vscode.window.showInformationMessage(`Superdraft: ${this.installing} is being installed; wait for it or cancel it first.`);
      return undefined;
    }
    source ??= await this.pickSource();
    if (!source) return undefined;
    this.installing = source;
    const token = await huggingFaceToken(this.ctx);
    const endpoint = hubEndpoint();
    this.logger.info(`installing model ${source}${endpoint ? ` from ${endpointName(endpoint)}` : ''} into ${this.store}`);
    let result: InstallResult | undefined;
    try {
      result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Superdraft: installing ${source}`, cancellable: true }, async (progress, cancel) => {
        const ac = new AbortController();
        cancel.onCancellationRequested(() => ac.abort());
        let shown = 0;
        return installModel({
          source: source!,
          store: this.store,
          gpu: this.gpu(),
          endpoint,
          token,
          signal: ac.signal,
          onWarning: (w) => {
            this.logger.warn(w);
            void vscode.window.showWarningMessage(`Superdraft: ${w}`);
          },
          onProgress: (p) => {
            if (p.phase === 'listing') progress.report({ message: 'listing the repository…' });
            else if (p.phase === 'preparing') {
              progress.report({ increment: 100 - shown, message: 'preparing the model…' });
              shown = 100;
              this.status.setDownload('preparing');
            } else if (p.phase === 'downloading' && p.total > 0) {
              const pct = Math.floor((100 * p.bytes) / p.total);
              const rate = p.rate > 0 ? ` · ${formatBytes(p.rate)}/s` : '';
              const eta = p.eta !== undefined ? ` · ${clock(p.eta)} left` : '';
              progress.report({ increment: Math.max(0, pct - shown), message: `${pct}% · ${formatBytes(p.bytes)} of ${formatBytes(p.total)}${rate}${eta}` });
              shown = Math.max(shown, pct);
              this.status.setDownload(`${pct}%`);
            }
          },
        });
      });
    } catch (e) {
      this.report(source, e);
      return undefined;
    } finally {
      this.installing = undefined;
      this.status.setDownload(undefined);
    }
    this.logger.info(`model ${result.name} ${result.already ? 'was already installed' : 'installed'} at ${result.dir} (${result.variant}, ${formatBytes(result.bytes)})`);
    await vscode.workspace.getConfiguration('superdraft').update('model', result.name, vscode.ConfigurationTarget.Global);
    void vscode.window
      .showInformationMessage(`Superdraft: ${result.name} ${result.already ? 'was already installed' : `installed (${result.variant}, ${formatBytes(result.bytes)})`}; it is now the model in use.`, 'Manage Models')
      .then((a) => a && vscode.commands.executeCommand(Commands.manageModels));
    return result;
  }

  private report(source: string, e: unknown): void {
    // The one redaction (URL credentials, tokens, control characters) before a log line or a notification.
    const msg = safeMessage(e instanceof Error ? e.message : String(e), [process.env.HF_TOKEN]);
    this.logger.error(`install of ${source} failed: ${msg}`);
    if (e instanceof ModelInstallError && e.code === 'cancelled') {
      void vscode.window.showInformationMessage(`Superdraft: install of ${source} cancelled; nothing was installed.`);
      return;
    }
    const actions: string[] = [];
    if (e instanceof ModelInstallError && (e.code === 'auth' || e.code === 'forbidden')) actions.push('Set Hugging Face Token');
    if (e instanceof ModelInstallError && e.code === 'network') actions.push('Retry');
    actions.push('Show Log');
    void vscode.window.showErrorMessage(`Superdraft: could not install ${source}: ${msg}`, ...actions).then((a) => {
      if (a === 'Set Hugging Face Token') void this.setToken();
      else if (a === 'Retry') void this.install(source);
      else if (a === 'Show Log') this.logger.show();
    });
  }

  async manage(): Promise<void> {
    type Item = vscode.QuickPickItem & { model?: InstalledModel; embedded?: boolean; run?: () => unknown };
    const current = this.settings.current.model;
    const models = listInstalled(this.store);
    const items: Item[] = [
      { label: `$(chip) embedded`, description: `built-in model${this.settings.current.modelPath ? ' (superdraft.modelPath)' : ''}${current === 'embedded' ? ' · in use' : ''}`, embedded: true },
      ...models.map((m) => ({ label: `$(package) ${m.name}`, description: `${m.variant} · ${formatBytes(m.bytes)}${m.name === current ? ' · in use' : ''}`, detail: `${m.source} · ${m.dir}`, model: m })),
      { label: '$(cloud-download) Install Model…', run: () => this.install() },
      { label: '$(key) Set Hugging Face Token', run: () => this.setToken() },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'Superdraft: models', placeHolder: 'Choose a model to switch to, remove or open' });
    if (!pick) return;
    if (pick.run) return void (await pick.run());
    if (pick.embedded) return void (await this.use('embedded'));
    const m = pick.model!;
    type Action = vscode.QuickPickItem & { act: 'use' | 'remove' | 'open' };
    const actions: Action[] = [
      ...(m.name !== current ? [{ label: '$(check) Use this model', act: 'use' as const }] : []),
      { label: '$(trash) Remove', description: `frees ${formatBytes(m.bytes)}`, act: 'remove' },
      { label: '$(folder-opened) Open folder', description: m.dir, act: 'open' },
    ];
    const a = await vscode.window.showQuickPick(actions, { title: `Superdraft: ${m.name}` });
    if (a?.act === 'use') await this.use(m.name);
    else if (a?.act === 'open') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(m.dir));
    else if (a?.act === 'remove') await this.remove(m);
  }

  private async use(name: string): Promise<void> {
    if (this.settings.current.model === name) return;
    await vscode.workspace.getConfiguration('superdraft').update('model', name, vscode.ConfigurationTarget.Global);
  }

  private async remove(m: InstalledModel): Promise<void> {
    const ok = await vscode.window.showWarningMessage(`Remove the model ${m.name} (${formatBytes(m.bytes)})?`, { modal: true, detail: m.dir }, 'Remove');
    if (ok !== 'Remove') return;
    // The model in use is switched away first (the inference process restarts on the embedded model).
    if (this.settings.current.model === m.name) await this.use('embedded');
    try {
      removeInstalled(this.store, m.name);
      this.logger.info(`removed model ${m.name} (${m.dir})`);
      void vscode.window.showInformationMessage(`Superdraft: removed ${m.name}.`);
    } catch (e) {
      void vscode.window.showErrorMessage(`Superdraft: could not remove ${m.name}: ${(e as Error).message}`);
    }
  }

  async setToken(): Promise<void> {
    const had = (await this.ctx.secrets.get(TOKEN_KEY)) !== undefined;
    const v = await vscode.window.showInputBox({
      title: 'Superdraft: Hugging Face token',
      prompt: `A read token for gated or private repositories (kept in the editor's secret storage, never logged).${had ? ' Leave empty to delete the stored token.' : ''}`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (x) => (x.trim() === '' || /^hf_\w+$/.test(x.trim()) ? undefined : 'A Hugging Face token starts with hf_'),
    });
    if (v === undefined) return;
    if (v.trim() === '') {
      await this.ctx.secrets.delete(TOKEN_KEY);
      void vscode.window.showInformationMessage('Superdraft: Hugging Face token deleted.');
    } else {
      await this.ctx.secrets.store(TOKEN_KEY, v.trim());
      void vscode.window.showInformationMessage('Superdraft: Hugging Face token saved.');
    }
  }
}
