/**
 * The calibrated weights of the next-edit ranking, one per FEATURE_NAMES entry (features.ts): a logistic regression
 * of "this site is one of the next edits" fitted by training/next_edit_fit.ts on cases made from this repository's
 * own history (training/next_edit_cases.mjs), never on the shared dev set. Regenerate with that script.
 */
export const NEXT_EDIT_WEIGHTS: readonly number[] = [0.211,  1.083,  0.892,  -0.753,  -0.759,  -0.827,  0.261,  0.052,  -0.088,  1.007,  0.533,  -0.049,  0.242,  -0.054,  0.098,  0.265,  0.117,  0.297,  -0.455,  0.056,  -0.022,  0.002,  -0.721,  0.913];

/**
 * How the model's score joins (modelRank.ts): [heuristic log-odds, the model's log-likelihood gain of the changed line,
 * bias]; fitted by training/next_edit_fit_model.ts.
 */
export const NEXT_EDIT_MODEL_WEIGHTS: readonly number[] = [0.983, 0.654, 1.538];
