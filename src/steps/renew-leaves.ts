// Step `renew-leaves` (kubeadm): each control-plane node's leaves renewed natively, like `kubeadm certs renew`, each signed
// by its own CA whose key is read over SSH into memory only; made in the prepare half, staged and swapped in by the apply half.
import type { RenewLeavesStep } from '../playbook/types.js';
import type { Warning } from '../plan/types.js';
import type { Secret } from '../secret.js';
import { parseCertificates, renewLeaf, verifyIssuedBy, type ParsedCert } from '../pki/index.js';
import { queryKubeadm, type KubeadmHostFacts } from '../facts/kubeadm.js';
import type { PrepareContext, PrepareResult, StepModule } from './types.js';
import { applyRenewals, certDirFindings, emptyData, newFile, pkiFinding, planRenewals, readSecrets, resumeState, type KubeadmStepData, type Renewal } from './kubeadm-files.js';

/** kubeadm's leaves and the CA that signs each (cmd/kubeadm/app/phases/certs/certlist.go). */
export const LEAF_CA: Record<string, string> = {
  apiserver: 'ca',
  'apiserver-kubelet-client': 'ca',
  'apiserver-etcd-client': 'etcd/ca',
  'front-proxy-client': 'front-proxy-ca',
  'etcd/server': 'etcd/ca',
  'etcd/peer': 'etcd/ca',
  'etcd/healthcheck-client': 'etcd/ca',
};

/** With external etcd (the node is not an etcd host) kubeadm renews neither the etcd leaves nor apiserver-etcd-client. */
const needsLocalEtcd = (leaf: string) => leaf.startsWith('etcd/') || leaf === 'apiserver-etcd-client';

const DAY = 86_400_000;

export const keyTypeOf = (c: ParsedCert) => (c.publicKey.algorithm === 'rsa' ? `RSA ${c.publicKey.bits}` : c.publicKey.curve ? `EC ${c.publicKey.curve}` : c.publicKey.algorithm);

export const renewLeaves: StepModule<RenewLeavesStep> = {
  type: 'renew-leaves',
  needs: ['preflight', 'backup'],
  changesLiveState: true,
  async prepare(spec, ctx): Promise<PrepareResult> {
    const hosts = ctx.hostsOf(spec.targets).filter((h) => ctx.remote(h));
    const findings: Warning[] = certDirFindings(ctx, hosts);
    if (findings.length) return { needed: false, reasons: [], findings, data: emptyData() };
    const notes: string[] = [];
    const etcd = new Set(ctx.inventory.groups.etcd ?? []);
    const per: Array<{ host: string; dir: string; leaves: string[]; f: KubeadmHostFacts }> = [];
    await Promise.all(
      hosts.map(async (host) => {
        const dir = ctx.host(host).vars.certDir;
        const leaves = spec.leaves.filter((l) => etcd.has(host) || !needsLocalEtcd(l));
        const skipped = spec.leaves.filter((l) => !leaves.includes(l));
        if (skipped.length) notes.push(`${host}: not an etcd host (external etcd): ${skipped.join(', ')} left alone, as kubeadm does`);
        const cas = [...new Set(leaves.map((l) => LEAF_CA[l]!))];
        const p = (n: string, ext: string) => `${spec.pkiDir}/${n}.${ext}`;
        const q = {
          dir,
          files: [...leaves.flatMap((l) => [p(l, 'crt'), p(l, 'key')]), ...cas.flatMap((c) => [p(c, 'crt'), p(c, 'key')])],
          certs: [...leaves.map((l) => p(l, 'crt')), ...cas.map((c) => p(c, 'crt'))],
          kubeconfigs: [],
        };
        per.push({ host, dir, leaves, f: await queryKubeadm(ctx.remote(host)!, host, q, ctx.host(host).ssh.commandTimeout * 1000) });
      }),
    );
    per.sort((a, b) => hosts.indexOf(a.host) - hosts.indexOf(b.host));
    // What is knowable now: every CA with its key, every leaf present and issued by its CA.
    let earliest: { at: string; what: string } | undefined;
    for (const { host, dir, leaves, f } of per) {
      for (const ca of new Set(leaves.map((l) => LEAF_CA[l]!))) {
        if (!f.pems[`${spec.pkiDir}/${ca}.crt`]) findings.push({ level: 'block', code: 'ca-missing', host, message: `${host}: the CA certificate ${dir}/${spec.pkiDir}/${ca}.crt is missing` });
        if (!f.files[`${spec.pkiDir}/${ca}.key`])
          findings.push({ level: 'block', code: 'ca-key-missing', host, message: `${host}: the CA key ${dir}/${spec.pkiDir}/${ca}.key is missing (an external CA?): certroll cannot sign ${leaves.filter((l) => LEAF_CA[l] === ca).join(', ')} there; copy the key there with mode 0600 or leave these leaves out of the step` });
      }
      for (const leaf of leaves) {
        const path = `${dir}/${spec.pkiDir}/${leaf}.crt`;
        const pem = f.pems[`${spec.pkiDir}/${leaf}.crt`];
        if (!pem) {
          findings.push({ level: 'block', code: 'leaf-missing', host, message: `${host}: ${path} is missing: there is nothing to copy its subject and SANs from (kubeadm \`init phase certs\` makes a first one)` });
          continue;
        }
        if (!f.files[`${spec.pkiDir}/${leaf}.key`]) findings.push({ level: 'block', code: 'key-missing', host, message: `${host}: ${dir}/${spec.pkiDir}/${leaf}.key is missing beside ${path}` });
        try {
          const c = parseCertificates(pem, `${host}:${path}`)[0]!;
          if (!earliest || c.notAfter < earliest.at) earliest = { at: c.notAfter, what: `${host}:${path}` };
          const caPem = f.pems[`${spec.pkiDir}/${LEAF_CA[leaf]}.crt`];
          const v = caPem ? verifyIssuedBy(pem, caPem) : { ok: true as const };
          if (!v.ok) findings.push({ level: 'block', code: 'wrong-issuer', host, message: `${host}: ${path} is not signed by ${LEAF_CA[leaf]} (${v.reason}); renewing it with that CA would change who trusts it: check the cluster's PKI first` });
        } catch (e) {
          findings.push(pkiFinding(e, host, path));
        }
      }
    }
    const limit = ctx.now.getTime() + ctx.renewWithinDays * DAY;
    const expiring = earliest !== undefined && Date.parse(earliest.at) <= limit;
    const needed = expiring || ctx.force || Boolean(ctx.resume);
    const reasons = earliest
      ? [expiring ? `kubeadm leaf ${earliest.what} expires ${earliest.at}: within ${ctx.renewWithinDays} days` : `kubeadm leaves valid until ${earliest.at} at least: beyond ${ctx.renewWithinDays} days, nothing to renew`]
      : [];
    if (!needed || findings.some((w) => w.level === 'block')) return { needed, reasons, findings, data: emptyData(notes) };

    const renewals: Renewal[] = [];
    await Promise.all(
      per.map(async ({ host, dir, leaves, f }) => {
        const caKeys = new Map<string, Secret<string>>();
        const cas = [...new Set(leaves.map((l) => LEAF_CA[l]!))];
        // The host's CA keys (and, with keepKeys, its leaves' keys) in one exec.
        const read = await readSecrets(ctx, host, [...cas.map((ca) => `${dir}/${spec.pkiDir}/${ca}.key`), ...(spec.keepKeys ? leaves.map((l) => `${dir}/${spec.pkiDir}/${l}.key`) : [])]);
        for (const ca of cas) caKeys.set(ca, read(`${dir}/${spec.pkiDir}/${ca}.key`));
        for (const leaf of leaves) {
          const crt = `${spec.pkiDir}/${leaf}.crt`;
          const key = `${spec.pkiDir}/${leaf}.key`;
          const paths = [`${dir}/${crt}`, ...(spec.keepKeys ? [] : [`${dir}/${key}`])];
          const rs = resumeState(ctx, host, paths, (p) => f.files[p.slice(dir.length + 1)]?.sha256);
          if (rs === 'done') {
            notes.push(`${host}: ${crt} already renewed by run ${ctx.resume!.plan.runId}`);
            continue;
          }
          if (rs === 'mixed') {
            findings.push({ level: 'block', code: 'fleet-changed', host, message: `${host}: of ${paths.join(' and ')}, only one is the file run ${ctx.resume!.plan.runId} wrote; resuming is unsafe (use \`certroll rollback --run ${ctx.resume!.plan.runId}\`)` });
            continue;
          }
          const ca = LEAF_CA[leaf]!;
          try {
            const r = await renewLeaf({
              caCertPem: f.pems[`${spec.pkiDir}/${ca}.crt`]!,
              caKeyPem: caKeys.get(ca)!,
              caCertSource: `${host}:${dir}/${spec.pkiDir}/${ca}.crt`,
              caKeySource: `${host}:${dir}/${spec.pkiDir}/${ca}.key`,
              oldCertPem: f.pems[crt]!,
              ...(spec.keepKeys ? { keepKey: read(`${dir}/${key}`) } : {}),
              extraSans: leafExtraSans(ctx, host, leaf),
              days: spec.days,
              now: ctx.now,
              source: `${host}:${dir}/${crt}`,
            });
            const old = parseCertificates(f.pems[crt]!)[0]!;
            if (r.dropped.length) findings.push({ level: 'warn', code: 'san-dropped', host, message: `${host}: ${dir}/${crt}: ${r.dropped.join(', ')} not carried over (only DNS and IP SANs are, as kubeadm does)` });
            renewals.push({
              host,
              info: {
                path: `${dir}/${crt}`,
                subject: r.cert.subject.text,
                ca,
                issuer: r.cert.issuer.text,
                oldNotAfter: old.notAfter,
                notAfter: r.cert.notAfter,
                sans: r.cert.sans.map((s) => `${s.type === 'ip' ? 'IP' : 'DNS'}:${s.value}`),
                sansAdded: r.sanDiff.added,
                sansRemoved: r.sanDiff.removed,
                extKeyUsage: r.cert.extendedKeyUsage ?? [],
                key: r.keyPem ? 'new' : 'kept',
                keyType: keyTypeOf(r.cert),
              },
              files: [newFile(`${dir}/${crt}`, r.certPem, f.files[crt] ?? null, false, r.cert.notAfter), ...(r.keyPem ? [newFile(`${dir}/${key}`, r.keyPem, f.files[key] ?? null, true)] : [])],
            });
          } catch (e) {
            findings.push(pkiFinding(e, host, `${dir}/${crt}`));
          }
        }
      }),
    );
    renewals.sort((a, b) => hosts.indexOf(a.host) - hosts.indexOf(b.host) || spec.leaves.indexOf(leafOf(a.info.path)) - spec.leaves.indexOf(leafOf(b.info.path)));
    const data: KubeadmStepData = { renewals, notes };
    return { needed, reasons, findings, data };
  },
  plan(spec, ctx) {
    return planRenewals(ctx, ctx.hostsOf(spec.targets), 'no kubeadm leaf to renew');
  },
  apply(step, _spec, ctx) {
    return applyRenewals(step, ctx);
  },
};

const leafOf = (path: string) => path.replace(/^.*\/pki\//, '').replace(/\.crt$/, '');

/** Inventory `extraSans` go on the serving certificates (apiserver, etcd server and peer), not on client certificates. */
function leafExtraSans(ctx: PrepareContext, host: string, leaf: string): string[] {
  return ['apiserver', 'etcd/server', 'etcd/peer'].includes(leaf) ? ctx.host(host).vars.extraSans : [];
}
