/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on positive cases made from other
 * histories (training/next_edit_cases.ts, training/README.md), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [-0.165, 0.084, 0.493, -0.189, -0.44, -0.388, 0.749, -0.046, -0.044, 1.162, 0.197, -0.158, 0.16, 0.711, 0.103, -0.229, 0.091, -0.13, -4.391, 0.349, -0.356, -0.067, -0.648, 0.744, -0.511, -0.221, -1.481, -0.897, 0.667, 0.637, 0.458];

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
export const NEXT_EDIT_GATE_WEIGHTS: readonly number[] = [-0.221, 0.913, 0.005, 0.22, -0.041, -0.06, -0.093, -0.475, -0.241, 0.06, -0.605, -0.732, 0.438, 0.156, 1.534, 0.198, -0.156, -0.083, 0.255, 0.393, -0.55, 1.525, -0.483, 0.77, 0.157, -0.199, -0.067, 0.017, -0.663, 1.097, 0.394];
