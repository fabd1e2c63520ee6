/**
 * The client of the inference process, as the rest of the extension imports it: supervision (supervisor.ts) and the
 * RPC calls (rpcClient.ts), with the restart policy (restartPolicy.ts).
 */
export { InferenceClient, type TokenLike } from './rpcClient';
export { ClientError, ProcessSupervisor, type ClientOptions, type ClientState, type LogLevelName } from './supervisor';
export { RestartPolicy } from './restartPolicy';
