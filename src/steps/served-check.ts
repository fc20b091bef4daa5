// The served-certificate check after a node's restart: a TLS handshake (openssl s_client on the node) to each listed port,
// compared by SHA-256 fingerprint with the certificate file now on disk there. It catches a process that still holds the
// old certificate in memory (a restart that did not happen, or a process that loads its certificates only at start).
import { quote } from '../ssh/quote.js';
import { concurrently } from '../ssh/sections.js';

export interface ServedTarget {
  /** ADDRESS:PORT as the node itself reaches it. */
  endpoint: string;
  /** The certificate file that port must serve. */
  cert: string;
}

export interface CertId {
  fingerprint: string;
  serial: string;
}

export interface ServedSeen extends ServedTarget {
  served?: CertId;
  file?: CertId;
}

/** One script for every target: the served leaf's and the file's fingerprint and serial, in marked sections. Reads only. */
export function servedCheckScript(targets: ServedTarget[]): string {
  return [
    `T=; command -v timeout >/dev/null 2>&1 && T='timeout 10'`,
    // Every port's handshake at the same time (src/ssh/sections.ts `concurrently`), printed in order.
    concurrently(targets.map((t, k) => [
      `echo '@@served ${k}'; $T openssl s_client -connect ${quote(t.endpoint)} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 -serial 2>/dev/null`,
      `echo '@@file ${k}'; openssl x509 -in ${quote(t.cert)} -noout -fingerprint -sha256 -serial 2>/dev/null`,
    ].join('\n'))),
    `echo '@@end'`,
  ].join('\n');
}

function idOf(lines: string[]): CertId | undefined {
  const fp = lines.map((l) => /Fingerprint=([0-9A-F:]+)/i.exec(l)?.[1]).find(Boolean);
  const serial = lines.map((l) => /^serial=([0-9A-F]+)/i.exec(l.trim())?.[1]).find(Boolean);
  return fp && serial ? { fingerprint: fp.toUpperCase(), serial: serial.toUpperCase() } : undefined;
}

export function parseServedCheck(stdout: string, targets: ServedTarget[]): ServedSeen[] {
  const sections = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^@@(served|file|end) ?(\d*)$/.exec(line);
    if (m) sections.set(`${m[1]} ${m[2]}`, (cur = []));
    else cur?.push(line);
  }
  return targets.map((t, k) => {
    const served = idOf(sections.get(`served ${k}`) ?? []);
    const file = idOf(sections.get(`file ${k}`) ?? []);
    return { ...t, ...(served ? { served } : {}), ...(file ? { file } : {}) };
  });
}

/** What is wrong with what was seen, one message per port; empty when every port serves its file. */
export function servedProblems(seen: ServedSeen[]): string[] {
  return seen.flatMap((s) => {
    if (!s.file) return [`${s.cert} is missing or not a certificate`];
    if (!s.served) return [`no TLS handshake on ${s.endpoint} (nothing serves there, or openssl is missing)`];
    if (s.served.fingerprint !== s.file.fingerprint) return [`${s.endpoint} serves serial ${s.served.serial}, not ${s.cert} (serial ${s.file.serial}) now on disk: the process still holds the old certificate`];
    return [];
  });
}
