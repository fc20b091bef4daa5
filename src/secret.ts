// A value that must never be printed: it shows as *** in logs, plans, journals and JSON.
import { inspect } from 'node:util';

export class Secret<T = string> {
  #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  /** The only way to get the value out; grep for `reveal(` to audit every use. */
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [inspect.custom](): string {
    return 'Secret(***)';
  }
}
