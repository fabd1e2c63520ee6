/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on positive cases made from other
 * histories (training/next_edit_cases.ts, training/README.md), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [-0.261, 0.697, 0.632, -0.248, -0.401, -0.447, 0.94, 0.478, 0.097, 2.141, 0.32, -0.208, 0.398, 0.305, 0, 0.143, 0.451, 0.014, -3.478, -0.066, 0.124, 0.068, -0.529, 0.645, -0.481, -0.764];

/**
 * How the model's score joins (modelRank.ts): [heuristic log-odds, the model's log-likelihood gain of the changed line,
 * bias]; fitted by training/next_edit_fit_model.ts.
 */
export const NEXT_EDIT_MODEL_WEIGHTS: readonly number[] = [0.621, 0.005, -1.752];

/**
 * The gate's weights, one per GATE_FEATURE_NAMES entry (gate.ts): a logistic regression of "this edit has a next
 * edit among its sites", fitted by training/next_edit_fit.ts with the ranking above; DEFAULTS.nextEditThreshold cuts it.
 */
export const NEXT_EDIT_GATE_WEIGHTS: readonly number[] = [-0.432, 1.071, -0.017, 0.758, -0.1, 0.136, -0.051, -0.621, -0.748, -0.055, -0.452, -1.375, -0.24, -0.205, 1.349, -0.181, -0.412, -0.065, 0.329, -0.167, -1.038, 2.223, -1.179, 0.458, 0.542, -0.082, 0.113, 0.103, -0.208];
