/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on positive cases made from other
 * histories (training/next_edit_cases.ts, training/README.md), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [-0.409, 0.667, 0.62, -0.207, -0.472, -0.394, 0.828, 0.321, 0.049, 1.99, 0.38, -0.041, 0.25, 0.236, 0.131, 0.087, -0.092, -0.007, -4.643, 0.209, -0.131, 0.169, -0.603, 0.676, -0.395, -0.559, -1.19, -1.263];

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
export const NEXT_EDIT_GATE_WEIGHTS: readonly number[] = [0.323, 0.892, 0.009, 0.052, 0.019, 0.546, -0.026, -0.891, -0.668, -0.066, -0.85, -1.346, -0.028, -0.154, 1.489, -0.165, -0.432, -0.229, 0.238, 0.096, -0.71, 2.08, -0.986, 0.906, 0.448, -0.033, -0.013, -0.287, -0.304, 1.277, 0.463];
