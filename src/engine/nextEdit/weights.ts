/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on positive cases made from other
 * histories (training/next_edit_cases.ts, training/README.md), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [-0.221, 0.084, 0.49, -0.184, -0.441, -0.381, 0.753, -0.033, -0.042, 1.185, 0.194, -0.161, 0.166, 0.707, 0.098, -0.214, 0.093, -0.122, -4.391, 0.367, -0.368, -0.071, -0.64, 0.744, -0.508, -0.224, -1.325, -0.885, 0.663, 0.635, 0.461];

/**
 * How the model's score joins (modelRank.ts): [heuristic log-odds, the model's log-likelihood gain of the changed line,
 * bias]; fitted by training/next_edit_fit_model.ts against the per-site ranking before the gate's refit (its
 * log-odds scale changed with that refit, so `eval --model-rank` needs this refit before its figures mean anything).
 */
export const NEXT_EDIT_MODEL_WEIGHTS: readonly number[] = [0.621, 0.005, -1.752];

/**
 * The gate's weights, one per GATE_FEATURE_NAMES entry (gate.ts): a logistic regression of "this edit has a next
 * edit among its sites", fitted by training/next_edit_fit.ts with the ranking above; DEFAULTS.nextEditThreshold cuts it.
 */
export const NEXT_EDIT_GATE_WEIGHTS: readonly number[] = [-0.136, 0.894, 0.004, 0.238, -0.029, -0.071, -0.093, -0.475, -0.268, 0.059, -0.641, -0.743, 0.41, 0.145, 1.515, 0.188, -0.15, -0.101, 0.257, 0.38, -0.542, 1.546, -0.486, 0.773, 0.147, -0.197, -0.078, 0, -0.655, 0.977, 0.362];
