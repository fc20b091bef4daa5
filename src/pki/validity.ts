// The validity window of a new certificate: from now (optionally backdated for clock skew) for N days.
import { PkiError } from './errors.js';

export interface ValidityOptions {
  /** Lifetime in days (whole days, ≥ 1). */
  days?: number;
  /** The moment "now"; tests pass a fixed date. Default: the current time. */
  now?: Date;
  /** Start the validity this many seconds before `now`, for hosts whose clocks lag. Default 0 (exactly `openssl x509 -days`). */
  backdateSeconds?: number;
}

export function validityWindow(
  opts: ValidityOptions,
  defaults: { days: number; backdateSeconds: number },
  source?: string,
): { notBefore: Date; notAfter: Date } {
  const days = opts.days ?? defaults.days;
  if (!Number.isInteger(days) || days < 1 || days > 365 * 1000) {
    throw new PkiError('bad-days', `days must be a whole number from 1 to 365000, got ${String(days)}`, source);
  }
  const now = opts.now ?? new Date();
  const start = Math.floor(now.getTime() / 1000) * 1000;
  const back = (opts.backdateSeconds ?? defaults.backdateSeconds) * 1000;
  return { notBefore: new Date(start - back), notAfter: new Date(start + days * 86_400_000) };
}
