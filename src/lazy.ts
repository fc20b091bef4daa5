// Heavy CommonJS dependencies (ssh2, node-forge) loaded on first use, so that a command that never needs them (--help,
// runs, bad input refused before any host) starts without paying for them.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A stand-in for `load()`'s result that calls `load()` on the first property access. */
export function lazy<T extends object>(load: () => T): T {
  let value: T | undefined;
  return new Proxy({} as T, { get: (_t, key) => Reflect.get((value ??= load()), key) });
}

/** A CommonJS module by name, required on first use. */
export const lazyRequire = <T extends object>(id: string): T => lazy(() => require(id) as T);
