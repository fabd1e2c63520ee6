/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on cases made from this repository's
 * own history (training/next_edit_cases.mjs), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [0.468,  1.12,  0.97,  -0.095,  -0.484,  -0.414,  0.441,  0.049,  0.105,  1.045,  0.573,  -0.022,  0.213,  -0.029,  0.152,  0.252,  0.094,  0.349,  -0.446,  0.039,  -0.012,  -0.014,  -0.593,  1.149,  -0.501,  -0.584];

/**
 * How the model's score joins (modelRank.ts): [heuristic log-odds, the model's log-likelihood gain of the changed line,
 * bias]; fitted by training/next_edit_fit_model.ts.
 */
export const NEXT_EDIT_MODEL_WEIGHTS: readonly number[] = [0.621, 0.005, -1.752];
