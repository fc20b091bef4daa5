// The sha256 of file contents as lowercase hex: what facts record, plans promise and checksum files list.
import { createHash } from 'node:crypto';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
