// Step `renew-kubeconfigs` (kubeadm): the client certificate and key embedded in admin.conf, super-admin.conf,
// controller-manager.conf, scheduler.conf (and kubelet.conf when it embeds an expiring one) renewed, signed by `ca`, the
// file rewritten in place with every other byte identical. Made in the prepare half (the kubeconfig read into memory only).
import type { RenewKubeconfigsStep } from '../playbook/types.js';
import type { Warning } from '../plan/types.js';
import { parseCertificates, renewLeaf, verifyIssuedBy, type ParsedCert } from '../pki/index.js';
import { kubeconfigUsers } from '../pki/kubeconfig-embedded.js';
import { KubeconfigError, parseKubeconfig, rewriteClientCredentials } from '../pki/kubeconfig.js';
import { queryKubeadm } from '../facts/kubeadm.js';
import type { PrepareResult, StepModule } from './types.js';
import { applyRenewals, certDirFindings, emptyData, newFile, pkiFinding, planRenewals, readSecrets, resumeState, type Renewal } from './kubeadm-files.js';
import { keyTypeOf } from './renew-leaves.js';

const DAY = 86_400_000;

interface Candidate {
  conf: string;
  user: string;
  old: ParsedCert;
  oldPem: string;
}

export const renewKubeconfigs: StepModule<RenewKubeconfigsStep> = {
  type: 'renew-kubeconfigs',
  needs: ['preflight', 'backup'],
  changesLiveState: true,
  async prepare(spec, ctx): Promise<PrepareResult> {
    const hosts = ctx.hostsOf(spec.targets).filter((h) => ctx.remote(h));
    const findings: Warning[] = certDirFindings(ctx, hosts);
    if (findings.length) return { needed: false, reasons: [], findings, data: emptyData() };
    const notes: string[] = [];
    const limit = ctx.now.getTime() + ctx.renewWithinDays * DAY;
    const caCrt = `${spec.pkiDir}/ca.crt`;
    const caKey = `${spec.pkiDir}/ca.key`;
    const per = await Promise.all(
      hosts.map(async (host) => {
        const dir = ctx.host(host).vars.certDir;
        const q = { dir, files: [...spec.kubeconfigs, caCrt, caKey], certs: [caCrt], kubeconfigs: spec.kubeconfigs };
        return { host, dir, f: await queryKubeadm(ctx.remote(host)!, host, q, ctx.host(host).ssh.commandTimeout * 1000) };
      }),
    );
    let earliest: { at: string; what: string } | undefined;
    const todo = new Map<string, Candidate[]>();
    for (const { host, dir, f } of per) {
      const list: Candidate[] = [];
      todo.set(host, list);
      for (const conf of spec.kubeconfigs) {
        const text = f.kubeconfigs[conf];
        const path = `${dir}/${conf}`;
        if (text === null || text === undefined) {
          if (conf !== 'super-admin.conf' && conf !== 'kubelet.conf') findings.push({ level: 'warn', code: 'kubeconfig-missing', host, message: `${host}: ${path} is missing: nothing to renew there` });
          continue;
        }
        for (const u of kubeconfigUsers(text)) {
          if (u.cert.kind === 'path' || u.key.kind === 'path') {
            if (conf === 'kubelet.conf') notes.push(`${host}: ${conf} names its client certificate by path (${u.cert.kind === 'path' ? u.cert.path : u.key.kind === 'path' ? u.key.path : ''}): the kubelet rotates it, left alone`);
            else
              findings.push({ level: 'block', code: 'kubeconfig-by-path', host, message: `${host}: ${path} user ${u.name} names its client certificate or key by path, not embedded: certroll (like kubeadm) renews only embedded ones; embed them or leave ${conf} out of the step` });
            continue;
          }
          if (u.cert.kind !== 'embedded' || u.key.kind !== 'embedded') continue;
          const pem = Buffer.from(u.cert.data, 'base64').toString('utf8');
          let old: ParsedCert;
          try {
            old = parseCertificates(pem, `${host}:${path} user ${u.name}`)[0]!;
          } catch (e) {
            findings.push(pkiFinding(e, host, `${path} user ${u.name}`));
            continue;
          }
          const expiring = Date.parse(old.notAfter) <= limit;
          if (conf === 'kubelet.conf' && !expiring) {
            notes.push(`${host}: ${conf} embeds a client certificate valid until ${old.notAfter}: beyond ${ctx.renewWithinDays} days, left alone`);
            continue;
          }
          if (!earliest || old.notAfter < earliest.at) earliest = { at: old.notAfter, what: `${host}:${path}` };
          const caPem = f.pems[caCrt];
          const v = caPem ? verifyIssuedBy(pem, caPem) : { ok: true as const };
          if (!v.ok) findings.push({ level: 'block', code: 'wrong-issuer', host, message: `${host}: ${path} user ${u.name}: its certificate is not signed by ${dir}/${caCrt} (${v.reason})` });
          list.push({ conf, user: u.name, old, oldPem: pem });
        }
      }
      if (list.length && !f.pems[caCrt]) findings.push({ level: 'block', code: 'ca-missing', host, message: `${host}: the CA certificate ${dir}/${caCrt} is missing` });
      if (list.length && !f.files[caKey]) findings.push({ level: 'block', code: 'ca-key-missing', host, message: `${host}: the CA key ${dir}/${caKey} is missing (an external CA?): certroll cannot sign the kubeconfigs' client certificates there` });
    }
    const expiring = earliest !== undefined && Date.parse(earliest.at) <= limit;
    const needed = expiring || ctx.force || Boolean(ctx.resume);
    const reasons = earliest
      ? [expiring ? `kubeconfig client certificate ${earliest.what} expires ${earliest.at}: within ${ctx.renewWithinDays} days` : `kubeconfig client certificates valid until ${earliest.at} at least: beyond ${ctx.renewWithinDays} days, nothing to renew`]
      : [];
    if (!needed || findings.some((w) => w.level === 'block')) return { needed, reasons, findings, data: emptyData(notes) };

    const renewals: Renewal[] = [];
    await Promise.all(
      per.map(async ({ host, dir, f }) => {
        const list = todo.get(host)!;
        if (!list.length) return;
        const confs = [...new Set(list.map((c) => c.conf))];
        // The CA key and the kubeconfigs of the host in one exec.
        const read = await readSecrets(ctx, host, [`${dir}/${caKey}`, ...confs.map((c) => `${dir}/${c}`)]);
        const ca = read(`${dir}/${caKey}`);
        for (const conf of confs) {
          const path = `${dir}/${conf}`;
          const rs = resumeState(ctx, host, [path], () => f.files[conf]?.sha256);
          if (rs === 'done') {
            notes.push(`${host}: ${conf} already renewed by run ${ctx.resume!.plan.runId}`);
            continue;
          }
          // The whole file in memory (it holds keys): rewritten user by user, every other byte as it was.
          let text = read(path);
          const infos: Renewal['info'][] = [];
          let notAfter: string | undefined;
          try {
            for (const c of list.filter((x) => x.conf === conf)) {
              const u = parseKubeconfig(text, `${host}:${path}`).users.find((x) => x.name === c.user);
              const oldKey = u?.clientKey?.kind === 'data' ? u.clientKey.pem : undefined;
              if (!oldKey) throw new KubeconfigError([{ file: `${host}:${path}`, path: '', message: `user "${c.user}" no longer embeds its client key` }], `${host}:${path}`);
              const r = await renewLeaf({
                caCertPem: f.pems[caCrt]!,
                caKeyPem: ca,
                caCertSource: `${host}:${dir}/${caCrt}`,
                caKeySource: `${host}:${dir}/${caKey}`,
                oldCertPem: c.oldPem,
                ...(spec.keepKeys ? { keepKey: oldKey } : {}),
                days: spec.days,
                now: ctx.now,
                source: `${host}:${path} user ${c.user}`,
              });
              // kubeconfig.ts rewrites the two values and proves every other byte unchanged.
              text = rewriteClientCredentials(text, `${host}:${path}`, c.user, { certPem: r.certPem, keyPem: r.keyPem ?? oldKey });
              notAfter = notAfter && notAfter < r.cert.notAfter ? notAfter : r.cert.notAfter;
              infos.push({
                path,
                user: c.user,
                subject: r.cert.subject.text,
                ca: 'ca',
                issuer: r.cert.issuer.text,
                oldNotAfter: c.old.notAfter,
                notAfter: r.cert.notAfter,
                sans: r.cert.sans.map((s) => `${s.type === 'ip' ? 'IP' : 'DNS'}:${s.value}`),
                sansAdded: r.sanDiff.added,
                sansRemoved: r.sanDiff.removed,
                extKeyUsage: r.cert.extendedKeyUsage ?? [],
                key: r.keyPem ? 'new' : 'kept',
                keyType: keyTypeOf(r.cert),
              });
            }
          } catch (e) {
            if (e instanceof KubeconfigError) findings.push({ level: 'block', code: 'kubeconfig', host, message: `${host}: ${path}: ${e.issues.map((i) => i.message).join('; ')}` });
            else findings.push(pkiFinding(e, host, path));
            continue;
          }
          const file = newFile(path, text, f.files[conf] ?? null, true, notAfter);
          // A kubeconfig keeps its own mode (kubeadm writes 0600); never wider than it was.
          file.mode = f.files[conf]?.mode ?? 0o600;
          infos.forEach((info, i) => renewals.push({ host, info, files: i === infos.length - 1 ? [file] : [] }));
        }
      }),
    );
    renewals.sort((a, b) => hosts.indexOf(a.host) - hosts.indexOf(b.host) || spec.kubeconfigs.indexOf(a.info.path.split('/').pop()!) - spec.kubeconfigs.indexOf(b.info.path.split('/').pop()!));
    return { needed, reasons, findings, data: { renewals, notes } };
  },
  plan(spec, ctx) {
    return planRenewals(ctx, ctx.hostsOf(spec.targets), 'no kubeconfig client certificate to renew');
  },
  apply(step, _spec, ctx) {
    return applyRenewals(step, ctx);
  },
};


