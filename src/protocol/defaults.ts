/**
 * Every default of a completion, in one place: the extension's settings, the engine's request normalisation and the
 * CLI's flags read them from here. "drafts" (the setting), `k` (the request) and `-k` (the CLI) are the same number.
 */
import type { CompletionMode, DeviceName, StrategyName } from './index';

export const DEFAULTS = Object.freeze({
  strategy: 'superposed' as StrategyName,
  /** Drafts per completion (`k`). */
  drafts: 3,
  maxTokens: 48,
  mode: 'auto' as CompletionMode,
  speculative: true,
  /** Drafts copied from the code (document, open files, workspace) ranked with the model's. */
  copyDrafts: true,
  temperature: 0.8,
  topP: 0.95,
  device: 'auto' as DeviceName,
  /** Engine time (ms) after which interactive drafts end at their last complete line (the extension's setting). */
  latencyBudgetMs: 50,
  /**
   * Next-edit drafts after an edit (the extension's `superdraft.nextEdit`). Off until the goals are met on the
   * dev set (top-1 .80, any-of-3 .93, false alarms .08; now .55 / .59 / .05).
   */
  nextEdit: false,
  /**
   * An edit whose gate probability (engine/nextEdit/gate.ts: is any of its sites wanted?) is below this shows no
   * next-edit draft (calibrated by training/next_edit_fit.ts on cases from other histories: the lowest threshold with
   * at most 6 % false alarms there, so that an edit with nothing alike shows nothing).
   */
  nextEditThreshold: 0.83,
  /** The same with the model's ranking (training/next_edit_fit_model.ts). */
  nextEditModelThreshold: 0.57,
  /** Quiet time (ms) after an edit before its next-edit drafts are computed (typing a name is one edit). */
  nextEditDebounceMs: 150,
});

/** Bounds the engine accepts for the numeric request fields (the CLI's flags use the same). */
export const BOUNDS = Object.freeze({
  k: { min: 1, max: 16 },
  maxTokens: { min: 1, max: 1024 },
  temperature: { min: 0, max: 5 },
  topP: { min: 0.01, max: 1 },
});

/** How many drafts a strategy returns for `k`: greedy decoding has exactly one. */
export function draftCount(strategy: StrategyName, k: number): number {
  return strategy === 'greedy' ? 1 : k;
}
