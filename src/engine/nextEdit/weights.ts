/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on positive cases made from other
 * histories (training/next_edit_cases.ts, training/README.md), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [-0.322, 0.684, 0.613, -0.255, -0.404, -0.443, 0.999, 0.513, 0.099, 2.304, 0.318, -0.211, 0.415, 0.346, -0.011, 0.144, 0.48, 0.002, -4.908, -0.07, 0.134, 0.073, -0.527, 0.657, -0.491, -0.804];

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
export const NEXT_EDIT_GATE_WEIGHTS: readonly number[] = [-0.126, 1.086, -0.017, 0.75, -0.08, 0.089, -0.049, -0.892, -0.897, -0.041, -0.814, -1.635, -0.353, -0.296, 1.619, -0.19, -0.458, -0.03, 0.252, -0.184, -1.073, 2.787, -1.359, 0.561, 0.641, -0.082, 0.126, 0.092, -0.225];
