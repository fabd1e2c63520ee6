/** When the workspace n-grams are (re)indexed: process ready, setting toggled, file saved, workspace trusted. */
import * as vscode from 'vscode';
import type { InferenceClient } from '../process/client';
import { needsRestart } from '../settings';
import type { SettingsStore } from '../settingsStore';
import type { WorkspaceIndexer } from './workspaceIndex';

export function watchWorkspaceIndex(indexer: WorkspaceIndexer, client: InferenceClient, settings: SettingsStore): vscode.Disposable[] {
  const on = () => settings.current.workspaceNgrams && client.state === 'ready';
  return [
    client.onState((s) => {
      if (s === 'ready' && settings.current.workspaceNgrams) void indexer.indexWorkspace();
      else if (s === 'starting') indexer.reset();
    }),
    settings.onDidChange.on((prev) => {
      const now = settings.current.workspaceNgrams;
      if (prev.workspaceNgrams === now || client.state !== 'ready' || needsRestart(prev, settings.current)) return;
      if (now) void indexer.indexWorkspace();
      else void indexer.clear();
    }),
    vscode.workspace.onDidSaveTextDocument((doc) => {
      if (on()) void indexer.onSave(doc);
    }),
    // Nothing is indexed in an untrusted workspace: once the user trusts it, index it.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (on()) void indexer.indexWorkspace();
    }),
  ];
}
