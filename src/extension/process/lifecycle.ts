/**
 * The inference process's lifecycle as the user sees it: start and restart with progress, the model path from the
 * settings, restart when the model or device setting changes, and the error messages with their actions.
 * The crash/restart policy itself is the client's (client.ts: RestartPolicy).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../logger';
import { listInstalled } from '../../install/store';
import { modelStoreDir, selectedModel } from '../ui/modelStore';
import { needsRestart } from '../settings';
import type { SettingsStore } from '../settingsStore';
import { Commands } from '../ui/commandIds';
import { ClientError, InferenceClient } from './client';

export class ProcessLifecycle implements vscode.Disposable {
  readonly client: InferenceClient;
  private readonly disposables: vscode.Disposable[];

  /** With a remote backend: what Restart does instead of starting the process (reconnect to the server). */
  remoteRestart: (() => void) | undefined;

  /** The model name last warned about as not installed (one warning per name). */
  private warnedMissing = '';
  /** The GPU failure last notified (one notification per failure, not one per restart). */
  private warnedGpu = '';

  constructor(
    private readonly ctx: vscode.ExtensionContext,
    private readonly settings: SettingsStore,
    private readonly logger: Logger,
    /** Work the old process's answers no longer fit (the prefix cache, the workspace index). */
    private readonly beforeRestart: () => void,
  ) {
    this.client = new InferenceClient({
      serverPath: ctx.asAbsolutePath(path.join('dist', 'server.js')),
      init: () => ({ modelPath: this.resolveModelPath(), device: settings.current.device, workspaceNgrams: settings.current.workspaceNgrams }),
      log: (level, message) => logger.log(level, message),
    });
    this.disposables = [
      this.client.onState((s) => {
        if (s === 'ready') this.notifyGpuFailure();
        if (s === 'error' && !this.client.modelLoadFailed) {
          void vscode.window
            .showErrorMessage(`Superdraft: ${this.client.lastError ?? 'the inference process stopped.'}`, 'Restart', 'Show Log')
            .then((a) => this.errorAction(a));
        }
      }),
      settings.onDidChange.on((prev) => {
        const s = settings.current;
        if (s.backend !== 'local' || prev.backend !== s.backend) return; // remote: no local model (useBackend)
        if (!needsRestart(prev, s)) return;
        logger.info(`model/device changed (${this.describeModel(prev.model, prev.modelPath)}/${prev.device} -> ${this.describeModel(s.model, s.modelPath)}/${s.device}); restarting the inference process`);
        void this.restart(prev.model !== s.model || prev.modelPath !== s.modelPath ? `Superdraft: switching to the model ${this.modelLabel}…` : undefined);
      }),
    ];
  }

  /** The GPU asked for failed and the process runs on the CPU: say so once, with the cause and the setting. */
  private notifyGpuFailure(): void {
    const failure = this.client.info?.gpuFailure;
    if (!failure || failure === this.warnedGpu) return;
    this.warnedGpu = failure;
    const device = this.settings.current.device;
    const msg = `Superdraft: the GPU failed (${failure}); completions run on the CPU. Set "superdraft.device" to "cpu" to stop trying it${device === 'auto' ? '' : `, or fix what "${device}" needs (run \`superdraft doctor\`)`}.`;
    this.logger.warn(msg);
    void vscode.window.showWarningMessage(msg, 'Open Settings', 'Show Log').then((a) => {
      if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'superdraft.device');
      else if (a === 'Show Log') this.logger.show();
    });
  }

  private describeModel(model: string, modelPath: string): string {
    return model !== 'embedded' ? model : modelPath || 'embedded';
  }

  /** The model the user chose, for the status bar and diagnostics: an installed model's name, the path, or "embedded". */
  get modelLabel(): string {
    const s = this.settings.current;
    if (s.backend !== 'local') return `${s.remoteModel || 'the server\'s model'} (${s.backend})`;
    return s.model !== 'embedded' && selectedModel(this.ctx, s.model) ? s.model : s.modelPath || 'embedded';
  }

  /** superdraft.model (an installed model) first; then superdraft.modelPath; else the embedded model (''). */
  resolveModelPath(): string {
    const { model } = this.settings.current;
    if (model !== 'embedded') {
      const m = selectedModel(this.ctx, model);
      if (m) return m.dir;
      if (this.warnedMissing !== model) {
        this.warnedMissing = model;
        const installed = listInstalled(modelStoreDir(this.ctx)).map((x) => x.name);
        const msg = `Superdraft: no installed model is named "${model}" (superdraft.model)${installed.length ? `; installed: ${installed.join(', ')}` : ''}. Using the ${this.settings.current.modelPath ? 'superdraft.modelPath' : 'embedded'} model.`;
        this.logger.warn(msg);
        void vscode.window.showWarningMessage(msg, 'Manage Models', 'Install Model…').then((a) => {
          if (a === 'Manage Models') void vscode.commands.executeCommand(Commands.manageModels);
          else if (a) void vscode.commands.executeCommand(Commands.installModel);
        });
      }
    }
    const p = this.settings.current.modelPath;
    if (!p) return '';
    if (path.isAbsolute(p)) return p;
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder && folder.uri.scheme === 'file' ? path.join(folder.uri.fsPath, p) : p;
  }

  async start(): Promise<void> {
    if (this.settings.current.backend !== 'local') return; // a remote backend: no local model is loaded
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'Superdraft: loading model' },
      () => this.client.start().catch((e: unknown) => this.reportStartError(e)),
    );
  }

  async restart(title = 'Superdraft: restarting the inference process…'): Promise<void> {
    this.beforeRestart();
    if (this.settings.current.backend !== 'local') {
      this.remoteRestart?.();
      return;
    }
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title },
      () => this.client.restart().catch((e: unknown) => this.reportStartError(e)),
    );
  }

  private reportStartError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof ClientError && e.code === 'model_load') {
      void vscode.window
        .showErrorMessage(
          this.settings.current.model !== 'embedded'
            ? `Superdraft could not load the model ${this.settings.current.model}: ${msg} Fix: reinstall it ("Superdraft: Manage Models…", Remove, then "Superdraft: Install Model…") or switch to another model.`
            : `Superdraft could not load the model: ${msg} Fix: set "superdraft.modelPath" to a directory with config.json, tokenizer.json and the ONNX model, or clear it to use the embedded model; then run "Superdraft: Restart Inference Process".`,
          'Open Settings',
          'Restart',
          'Show Log',
        )
        .then((a) => this.errorAction(a));
    } else if (!(e instanceof ClientError && e.code === 'not_ready')) {
      this.logger.error(`start failed: ${msg}`);
    }
  }

  private errorAction(a: string | undefined): void {
    if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', this.settings.current.model !== 'embedded' ? 'superdraft.model' : 'superdraft.modelPath');
    else if (a === 'Restart') void vscode.commands.executeCommand(Commands.restart);
    else if (a === 'Show Log') this.logger.show();
  }

  /** superdraft.backend changed: a remote backend stops the process (its model memory is freed); local starts it. */
  async useBackend(remote: boolean): Promise<void> {
    this.beforeRestart();
    if (remote) {
      this.logger.info(`superdraft.backend is ${this.settings.current.backend}: stopping the inference process (no local model)`);
      await this.client.stop();
    } else {
      this.logger.info('superdraft.backend is local: starting the inference process');
      await this.start();
    }
  }

  /** Stops the process (deactivate). */
  stop(): Promise<void> {
    return this.client.stop();
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
