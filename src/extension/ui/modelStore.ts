/**
 * Where the extension keeps installed models (its global storage, models/), which folder `superdraft.model` names,
 * and the Hugging Face token (SecretStorage, else HF_TOKEN from the environment). The token is only ever handed to
 * the install; it is never logged.
 */
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { findInstalled, type InstalledModel } from '../../install/store';

export const TOKEN_KEY = 'superdraft.huggingFaceToken';

export function modelStoreDir(ctx: vscode.ExtensionContext): string {
  return path.join(ctx.globalStorageUri.fsPath, 'models');
}

/** The installed model `superdraft.model` names; undefined for "embedded" or a name that is not installed. */
export function selectedModel(ctx: vscode.ExtensionContext, model: string): InstalledModel | undefined {
  return model && model !== 'embedded' ? findInstalled(modelStoreDir(ctx), model) : undefined;
}

export async function huggingFaceToken(ctx: vscode.ExtensionContext): Promise<string | undefined> {
  return (await ctx.secrets.get(TOKEN_KEY))?.trim() || process.env.HF_TOKEN?.trim() || undefined;
}
