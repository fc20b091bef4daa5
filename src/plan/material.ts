// New certificate material for a run, in memory only: the CA renewed with its own key, the etcd leaf issued and checked.
import { checkRenewal, etcdLeafSans, formatSan, issueLeaf, parseCertificates, renewCa, requiredEtcdSans, sanDiff, type ParsedCert } from '../pki/index.js';
import type { Inventory } from '../inventory/types.js';
import type { IssueCertStep, Playbook, RenewCaStep } from '../playbook/types.js';
import type { Secret } from '../secret.js';
import type { KeyObject } from 'node:crypto';
import { sha256 } from '../hash.js';
import type { CertSummary, FileRole, MaterialSummary, Warning } from './types.js';

/** New certificate material, in memory only; the key is a Secret. */
export interface Material {
  files: Record<FileRole, { content: string | Secret<string>; sha256: string; size: number; notAfter?: string }>;
}

export interface MaterialInput {
  inventory: Inventory;
  playbook: Playbook;
  oldCaPem: string;
  oldLeafPem: string;
  caKeyPem: Secret<string>;
  now: Date;
  /** The new leaf's key, when generated ahead of time. */
  leafKey?: Promise<KeyObject>;
}

export interface MaterialResult {
  material: Material;
  summary: MaterialSummary;
  findings: Warning[];
}

export function summarize(c: ParsedCert): CertSummary {
  return {
    subject: c.subject.text,
    issuer: c.issuer.text,
    serial: c.serialNumber,
    sha256: sha256(c.pem),
    fingerprint: c.fingerprintSha256,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    sans: c.sans.map(formatSan),
  };
}

export async function makeMaterial(input: MaterialInput): Promise<MaterialResult> {
  const { inventory, playbook, now } = input;
  const renew = playbook.steps.find((s) => s.type === 'renew-ca') as RenewCaStep | undefined;
  const issue = playbook.steps.find((s) => s.type === 'issue-cert') as IssueCertStep | undefined;
  const oldCa = parseCertificates(input.oldCaPem)[0]!;
  const oldLeaf = parseCertificates(input.oldLeafPem)[0]!;
  const newCa = renewCa({ caCertPem: input.oldCaPem, caKeyPem: input.caKeyPem, days: renew?.days ?? 36500, now });
  const members = (inventory.groups.etcd ?? []).map((n) => inventory.hosts.find((h) => h.name === n)!).map((h) => ({ hostname: h.hostname, ...(h.ip ? { ip: h.ip } : {}) }));
  const fm = inventory.hosts.find((h) => h.name === inventory.firstMaster)!;
  const sanInput = { members, ...(fm.vars.serviceIp ? { serviceIp: fm.vars.serviceIp } : {}), extraSans: fm.vars.extraSans };
  const sans = etcdLeafSans({ oldSans: oldLeaf.sans, ...sanInput });
  const leaf = await issueLeaf({
    caCertPem: newCa.certPem,
    caKeyPem: input.caKeyPem,
    template: input.oldLeafPem,
    sans,
    days: issue?.days ?? 36500,
    keyType: issue?.keyType ?? 'rsa2048',
    now,
    ...(input.leafKey ? { key: input.leafKey } : {}),
  });
  const findings: Warning[] = checkRenewal({
    oldCaPem: input.oldCaPem,
    newCaPem: newCa.certPem,
    oldLeafPem: input.oldLeafPem,
    newLeafPem: leaf.certPem,
    newLeafKeyPem: leaf.keyPem,
    requiredSans: requiredEtcdSans(sanInput),
    allowSanRemoval: issue?.allowSanRemoval ?? false,
    now,
  }).map((f) => ({ level: f.level === 'error' ? 'block' : f.level === 'warning' ? 'warn' : 'info', code: f.code, message: f.message }));
  const diff = sanDiff(oldLeaf.sans, leaf.cert.sans);
  const keyText = leaf.keyPem.reveal();
  const material: Material = {
    files: {
      ca: { content: newCa.certPem, sha256: sha256(newCa.certPem), size: Buffer.byteLength(newCa.certPem), notAfter: newCa.cert.notAfter },
      cert: { content: leaf.certPem, sha256: sha256(leaf.certPem), size: Buffer.byteLength(leaf.certPem), notAfter: leaf.cert.notAfter },
      key: { content: leaf.keyPem, sha256: sha256(keyText), size: Buffer.byteLength(keyText) },
    },
  };
  const summary: MaterialSummary = {
    oldCa: summarize(oldCa),
    newCa: summarize(newCa.cert),
    oldLeaf: summarize(oldLeaf),
    newLeaf: summarize(leaf.cert),
    newKeySha256: material.files.key.sha256,
    keyType: issue?.keyType ?? 'rsa2048',
    sanDiff: { added: diff.added.map(formatSan), removed: diff.removed.map(formatSan) },
  };
  return { material, summary, findings };
}
