// Reads an input file (inventory, playbook) only when it is a regular file under the size cap: a FIFO, a device, /dev/zero
// or a directory is refused at once, without ever opening it for reading (a FIFO would block, /dev/zero would never end).
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** Inventories and playbooks are small; anything bigger is a mistake (or an attack on the parser). */
export const MAX_INPUT_BYTES = 10 * 1024 * 1024;

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const why = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (code === 'ELOOP') return 'too many symbolic links';
  if (code === 'ENAMETOOLONG') return 'the name is too long';
  return code ?? (e as Error).message;
};

/**
 * The text of `file` (UTF-8), or an InputError naming the file and what it is: missing, unreadable, not a regular file,
 * over MAX_INPUT_BYTES. `what` is `inventory` or `playbook`; `headline` heads the error (e.g. `Invalid inventory:`).
 */
export async function readInputFile(file: string, what: string, headline?: string): Promise<string> {
  const fail = (message: string): never => {
    throw new InputError([{ file, path: '', message: `cannot read the ${what}: ${message}` }], headline);
  };
  if (file.trim() === '') fail('no file named');
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    return fail(why(e));
  }
  if (!st.isFile()) fail(`${kindOf(st)}, not a regular file`);
  if (st.size > MAX_INPUT_BYTES) fail(`${st.size} bytes, over the ${MAX_INPUT_BYTES / 1024 / 1024} MiB limit for input files`);
  // O_NONBLOCK: if the path was swapped for a FIFO since stat(), open() still returns at once and fstat() below refuses it.
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0));
  } catch (e) {
    return fail(why(e));
  }
  try {
    const again = await fh.stat();
    if (!again.isFile()) fail(`${kindOf(again)}, not a regular file`);
    // Read at most the cap plus one byte: a file that grew past it since stat() is refused, not read to the end.
    const buf = Buffer.alloc(Math.min(again.size, MAX_INPUT_BYTES) + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > MAX_INPUT_BYTES) fail(`over the ${MAX_INPUT_BYTES / 1024 / 1024} MiB limit for input files`);
    if (n === buf.length) fail('the file grew while it was read; try again');
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}
