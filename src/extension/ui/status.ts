/** What the status bar shows, derived from the settings, the process, the pipeline and the indexer's events. */
import type * as vscode from 'vscode';
import type { CompletionPipeline } from '../completions/pipeline';
import type { Emitter } from '../emitter';
import type { EngineView } from '../remote/draftSource';
import type { SettingsStore } from '../settingsStore';
import type { StatusBar } from './statusBar';

export function watchStatus(
  status: StatusBar,
  modelLabel: () => string,
  client: EngineView,
  settings: SettingsStore,
  pipeline: CompletionPipeline,
  indexer: { readonly running: boolean },
  indexing: Emitter<{ running: boolean; detail: string }>,
): vscode.Disposable[] {
  const refresh = () => {
    const st = client.state;
    if (!settings.current.enable) status.set('disabled');
    else if (st === 'error') status.set('error', client.modelLoadFailed ? 'model failed to load' : (client.lastError ?? 'inference process stopped'));
    else if (st === 'starting' || st === 'stopped') status.set('loading', client.stateReason ?? '');
    else if (pipeline.busy > 0) status.set('thinking');
    else if (indexer.running) status.set('indexing');
    else status.set('ready');
  };
  refresh();
  return [
    client.onState((s) => {
      if (s === 'ready') {
        const info = client.info;
        status.device = info?.gpuFailure ? `CPU (GPU failed: ${info.gpuFailure.length > 40 ? `${info.gpuFailure.slice(0, 39)}…` : info.gpuFailure})` : (info?.device ?? '');
        status.deviceWhy = info?.gpuFailure ? `the GPU failed: ${info.gpuFailure}` : (info?.deviceReason ?? '');
        status.model = modelLabel();
      }
      else if (s === 'starting') {
        status.device = '';
        status.latencyMs = undefined;
      }
      refresh();
    }),
    client.onProgress((p) => {
      if (p.kind === 'load' && !p.done) status.set('loading', p.message);
    }),
    pipeline.onRequest.on((e) => {
      if (e.phase === 'done') status.latencyMs = e.ms;
      else if (e.phase === 'start' || e.phase === 'end') refresh();
    }),
    indexing.on(({ running, detail }) => {
      if (running) status.set('indexing', detail);
      else refresh();
    }),
    settings.onDidChange.on((prev) => {
      if (prev.enable !== settings.current.enable) refresh();
    }),
  ];
}
