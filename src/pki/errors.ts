// The one error the PKI library throws for bad certificates and keys: an InputError with a stable code tests and callers can match.
import { InputError } from '../errors.js';

export type PkiErrorCode =
  | 'no-pem'
  | 'der-not-pem'
  | 'truncated-pem'
  | 'bad-der'
  | 'no-certificate'
  | 'no-private-key'
  | 'encrypted-key'
  | 'bad-passphrase'
  | 'bad-key'
  | 'unsupported-key'
  | 'key-mismatch'
  | 'not-a-ca'
  | 'not-self-signed'
  | 'not-issued-by'
  | 'no-subject'
  | 'no-sans'
  | 'bad-san'
  | 'bad-days'
  | 'not-a-leaf';

/** Bad certificate or key material: says which file (`source`), what is wrong, and what to do. Never contains key material. */
export class PkiError extends InputError {
  override name = 'PkiError';
  constructor(
    readonly code: PkiErrorCode,
    message: string,
    /** Where the PEM came from (a path, `host:path`, or a label); `<pem>` when unknown. */
    readonly source = '<pem>',
  ) {
    super([{ file: source, path: '', message }]);
  }
}
