// The etcd fact: member list, endpoint status and health from etcdctl's JSON, parsed by pure functions.
import type { EtcdEndpointHealth, EtcdEndpointStatus, EtcdFacts, EtcdMember } from './types.js';
import { concurrently } from '../ssh/sections.js';

/** etcdctl prints 64-bit ids as bare JSON numbers, which lose precision in JS: quote them before parsing. */
export function parseEtcdJson(text: string): unknown {
  return JSON.parse(text.replace(/([:\[,]\s*)(\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

const idToString = (v: unknown) => (typeof v === 'string' ? BigInt(v).toString(16) : typeof v === 'number' ? BigInt(v).toString(16) : '');

export function parseMemberList(text: string): EtcdMember[] {
  const data = parseEtcdJson(text) as { members?: Array<Record<string, unknown>> };
  return (data.members ?? []).map((m) => ({
    id: idToString(m.ID),
    name: String(m.name ?? ''),
    peerURLs: (m.peerURLs as string[]) ?? [],
    clientURLs: (m.clientURLs as string[]) ?? [],
  }));
}

export function parseEndpointStatus(text: string): EtcdEndpointStatus[] {
  if (!text.trim()) return [];
  const data = parseEtcdJson(text) as Array<{ Endpoint: string; Status: Record<string, unknown> & { header?: Record<string, unknown> } }>;
  return data.map((e) => ({
    endpoint: e.Endpoint,
    memberId: idToString(e.Status.header?.member_id),
    leaderId: idToString(e.Status.leader),
    raftIndex: Number(e.Status.raftIndex ?? 0),
    raftTerm: Number(e.Status.raftTerm ?? 0),
    version: String(e.Status.version ?? ''),
  }));
}

export function parseEndpointHealth(text: string): EtcdEndpointHealth[] {
  if (!text.trim()) return [];
  const data = parseEtcdJson(text) as Array<{ endpoint: string; health: boolean; error?: string }>;
  return data.map((h) => ({ endpoint: h.endpoint, healthy: Boolean(h.health), ...(h.error ? { error: h.error } : {}) }));
}

/** The host part of a URL, without brackets. */
export function urlHost(url: string): string {
  try {
    return new URL(url.includes('://') ? url : `https://${url}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

/**
 * Put the three outputs together and map members to inventory hosts by the address in their client URLs
 * (or, failing that, by member name = hostname).
 */
export function assembleEtcdFacts(
  queriedFrom: string,
  out: { members: string; status: string; health: string },
  etcdHosts: Array<{ name: string; hostname: string; address: string; ip?: string }>,
  error?: string,
): EtcdFacts {
  const facts: EtcdFacts = { queriedFrom, members: [], statuses: [], health: [], memberOfHost: {} };
  const errors: string[] = error ? [error] : [];
  try {
    facts.members = parseMemberList(out.members);
  } catch (e) {
    errors.push(`member list unreadable: ${(e as Error).message}`);
  }
  try {
    facts.statuses = parseEndpointStatus(out.status);
  } catch (e) {
    errors.push(`endpoint status unreadable: ${(e as Error).message}`);
  }
  try {
    facts.health = parseEndpointHealth(out.health);
  } catch (e) {
    errors.push(`endpoint health unreadable: ${(e as Error).message}`);
  }
  for (const h of etcdHosts) {
    const addrs = new Set([h.address, h.ip, h.hostname, h.name].filter(Boolean) as string[]);
    const m =
      facts.members.find((mm) => mm.clientURLs.some((u) => addrs.has(urlHost(u)))) ??
      facts.members.find((mm) => mm.name === h.hostname || mm.name === h.name);
    if (m) facts.memberOfHost[h.name] = m.id;
  }
  const leaderIds = new Set(facts.statuses.map((s) => s.leaderId).filter((id) => id && id !== '0'));
  if (leaderIds.size === 1) {
    const leader = [...leaderIds][0]!;
    const host = Object.entries(facts.memberOfHost).find(([, id]) => id === leader)?.[0];
    if (host) facts.leaderHost = host;
  }
  if (errors.length) facts.error = errors.join('; ');
  return facts;
}

/**
 * The script that prints the three etcdctl outputs between markers (one round trip), the three queries running at the
 * same time on the host: each is one element of a pipeline (member list → status → the reader, which runs the health
 * query itself), and the reader prints them in the fixed order once all are done. No file is written on the host.
 * With `served`, it also prints (all endpoints at once) the
 * leaf certificate each endpoint presents in its TLS handshake (openssl s_client, no client certificate needed to see it):
 * what the running member serves, which may differ from the file on disk until the member restarts.
 */
export function etcdFactsScript(etcdctl: string, endpoints: string, opts: { served?: boolean } = {}): string {
  const q = (what: string) => `${etcdctl} --endpoints ${endpoints} ${what} -w json </dev/null`;
  const lines = [
    // A pipe holds 64 KiB: a bigger output waits for the reader, which reads each one after the health query (no cycle).
    `{ ${q('member list')} 2>&1 | grep '^{' || true; } | {`,
    `  exec 3<&0`,
    `  { ${q('endpoint status')} 2>/dev/null || true; } | {`,
    `    h=$(${q('endpoint health')} 2>/dev/null || true); s=$(cat); m=$(cat <&3)`,
    `    printf '@@members\n%s\n@@status\n%s\n@@health\n%s\n' "$m" "$s" "$h"`,
    `  }`,
    `}`,
    `echo '@@end'`,
  ];
  if (opts.served) {
    lines.push(`if command -v openssl >/dev/null 2>&1; then echo '@@served-tool openssl'; else echo '@@served-tool none'; fi`);
    // One TLS handshake per endpoint, all at the same time (src/ssh/sections.ts `concurrently`), printed in order.
    const served: string[] = [];
    for (const e of endpoints.split(',').filter(Boolean)) {
      const target = hostPortOf(e);
      if (!target) continue;
      // The endpoint comes from the inventory (addresses and a numeric port, checked at load): safe inside single quotes.
      served.push(`echo '@@served ${e}'; command -v openssl >/dev/null 2>&1 && timeout 5 openssl s_client -connect '${target}' </dev/null 2>/dev/null | openssl x509 2>/dev/null || true`);
    }
    if (served.length) lines.push(concurrently(served));
    lines.push(`echo '@@served-end'`);
  }
  return lines.join('\n');
}

/** `host:port` of an https URL for openssl s_client (IPv6 in brackets); undefined when it is not one. */
export function hostPortOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (!/^[0-9A-Za-z.:\[\]-]+$/.test(u.host)) return undefined;
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return undefined;
  }
}

/**
 * The served leaf of each endpoint from the script's output: the PEM, or null when the handshake showed none (member
 * down, port closed). Undefined when the host has no openssl (nothing can be said).
 */
export function parseServed(stdout: string): Record<string, string | null> | undefined {
  if (!stdout.includes('@@served-tool openssl\n')) return undefined;
  const out: Record<string, string | null> = {};
  const re = /@@served (\S+)\n([\s\S]*?)(?=@@served)/g;
  for (const m of stdout.matchAll(re)) {
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(m[2]!);
    out[m[1]!] = pem ? pem[0] + '\n' : null;
  }
  return out;
}

export function splitEtcdFactsOutput(stdout: string): { members: string; status: string; health: string } {
  const pick = (a: string, b: string) => {
    const i = stdout.indexOf(`@@${a}\n`);
    const j = stdout.indexOf(`@@${b}\n`);
    return i < 0 || j < 0 ? '' : stdout.slice(i + a.length + 3, j).trim();
  };
  return { members: pick('members', 'status'), status: pick('status', 'health'), health: pick('health', 'end') };
}
