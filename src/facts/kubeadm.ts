// The kubeadm query: one read-only script per control-plane node that prints what the renewal plans from — each managed
// file's mode, owner and sha256, the certificates' PEMs (never a key's content) and the kubeconfigs with every
// client-key-data value replaced by REDACTED on the host — and its pure parser.
import { quote } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';
import type { FileRecord } from '../file-record.js';

export interface KubeadmQuery {
  /** The kubernetes dir (kubeadm: /etc/kubernetes); every path below is relative to it. */
  dir: string;
  /** Files whose mode, owner and sha256 are read (certificates, keys, kubeconfigs). */
  files: string[];
  /** Certificates whose PEM is read (never keys). */
  certs: string[];
  /** Kubeconfigs read with client-key-data values redacted on the host. */
  kubeconfigs: string[];
}

/** A kubeadm file by its path relative to the dir: FileRecord's mode, owner, group and sha256. */
export type KubeadmFileFact = Pick<FileRecord, 'mode' | 'uid' | 'gid' | 'sha256'>;

export interface KubeadmHostFacts {
  dir: string;
  /** By path relative to dir; null when the file does not exist. */
  files: Record<string, KubeadmFileFact | null>;
  pems: Record<string, string | null>;
  /** Redacted kubeconfig text (no key data), by file name; null when absent. */
  kubeconfigs: Record<string, string | null>;
}

const MARK = '@@certroll-kubeadm:';
const mark = (what: string) => `printf '\\n${MARK}%s\\n' ${quote(what)}`;

/** The script: reads only. A key's content never leaves the host (only its sha256, mode and owner). */
export function kubeadmFactsScript(q: KubeadmQuery): string {
  const lines = [`K=${quote(q.dir)}`];
  for (const f of q.files) lines.push(`${mark(`file ${f}`)}; F="$K"/${quote(f)}; if [ -f "$F" ]; then stat -L -c '%a %u %g' -- "$F"; sha256sum < "$F" | cut -c1-64; fi`);
  for (const f of q.certs) lines.push(`${mark(`pem ${f}`)}; F="$K"/${quote(f)}; if [ -f "$F" ]; then cat -- "$F"; fi`);
  for (const f of q.kubeconfigs)
    lines.push(`${mark(`conf ${f}`)}; F="$K"/${quote(f)}; if [ -f "$F" ]; then sed -E 's/^([[:space:]]*(- )?client-key-data:[[:space:]]*).*$/\\1REDACTED/' -- "$F"; fi`);
  lines.push(mark('end'), 'exit 0');
  return lines.join('\n');
}

/** Parse the script's output. Throws when it is truncated (no end marker). */
export function parseKubeadmFacts(host: string, q: KubeadmQuery, stdout: string): KubeadmHostFacts {
  const sections = new Map<string, string[]>();
  let cur: string[] | null = null;
  for (const line of stdout.split('\n')) {
    if (line.startsWith(MARK)) sections.set(line.slice(MARK.length), (cur = []));
    else cur?.push(line);
  }
  if (!sections.has('end')) throw new Error(`kubeadm fact output from ${host} is truncated (no end marker)`);
  // Each section starts after a marker line and ends before the next marker's leading newline.
  const body = (k: string) => {
    const l = sections.get(k);
    if (!l) return null;
    const text = l.join('\n').replace(/\n$/, '');
    return text === '' ? null : text;
  };
  const facts: KubeadmHostFacts = { dir: q.dir, files: {}, pems: {}, kubeconfigs: {} };
  for (const f of q.files) {
    const b = body(`file ${f}`);
    const m = b && /^([0-7]+) (\d+) (\d+)\n([0-9a-f]{64})$/.exec(b);
    facts.files[f] = m ? { mode: parseInt(m[1]!, 8), uid: Number(m[2]), gid: Number(m[3]), sha256: m[4]! } : null;
  }
  for (const f of q.certs) facts.pems[f] = body(`pem ${f}`) === null ? null : `${body(`pem ${f}`)}\n`;
  for (const f of q.kubeconfigs) facts.kubeconfigs[f] = body(`conf ${f}`) === null ? null : `${body(`conf ${f}`)}\n`;
  return facts;
}

/** Run the query on one host. */
export async function queryKubeadm(r: Remote, host: string, q: KubeadmQuery, timeoutMs?: number): Promise<KubeadmHostFacts> {
  const out = await r.sh(kubeadmFactsScript(q), { ...(timeoutMs ? { timeoutMs } : {}) });
  return parseKubeadmFacts(host, q, out.stdout);
}
