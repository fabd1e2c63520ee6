/**
 * The names a remote client uses to recognise `superdraft serve` and to ask it for a strategy. The OpenAI-compatible
 * client of the remote backends (src/remote/openai.ts) reads them too: `GET /v1/models` lists a model with `owned_by: "superdraft"`,
 * and a completion may carry the one extra body field `superdraft_strategy` (superposed | beam | sampling | greedy).
 */
import { STRATEGIES, type StrategyName } from '../protocol';
import { SERVE_OWNER, SERVE_STRATEGY_FIELD } from '../protocol/remote';

/** `owned_by` of every model `GET /v1/models` lists (the contract's SERVE_OWNER). */
export const SUPERDRAFT_OWNED_BY = SERVE_OWNER;
/** The body field of `POST /v1/completions` and `POST /infill` that picks the strategy (default: the server's). */
export const SUPERDRAFT_STRATEGY_FIELD = SERVE_STRATEGY_FIELD;
/** The strategy names the field takes: the engine's own. */
export const SUPERDRAFT_STRATEGIES: readonly StrategyName[] = STRATEGIES;
/** Optional request header naming one editor of a token: its newer request supersedes (cancels) its older one. */
export const CLIENT_HEADER = 'x-superdraft-client';
