/** Errors of model install/list/remove: each names what is wrong (repository, file, folder) and how to fix it. */
export type InstallErrorCode =
  | 'bad_input'
  | 'not_found'
  | 'auth'
  | 'forbidden'
  | 'no_onnx'
  | 'unsupported'
  | 'integrity'
  /** A file the listing gives no hash for, refused without --allow-unverified. */
  | 'unverified'
  | 'no_space'
  | 'network'
  | 'cancelled'
  | 'exists'
  | 'prepare';

export class ModelInstallError extends Error {
  constructor(
    readonly code: InstallErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModelInstallError';
  }
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}
