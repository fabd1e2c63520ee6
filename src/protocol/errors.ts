/** The engine's error, with the code the server maps to a JSON-RPC error (validation throws it too). */
export type EngineErrorCode = 'invalid_request' | 'model_load' | 'unsupported' | 'cancelled';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
