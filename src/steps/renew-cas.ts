// Step `renew-cas` (kubeadm, optional, off by default): renew `ca`, `front-proxy-ca` and `etcd/ca` keeping their keys,
// what kubeadm cannot do. Same subject, same key: every leaf and kubeconfig client certificate signed by the old CA
// verifies against the new one (mixed trust, checked here on each node's leaves before anything is written). kubeadm
// copies the CAs to every control-plane node, so each CA is renewed once and the same new certificate is staged on
// every node; nodes holding different certificates or keys for one CA block the plan. Runs before renew-leaves.
import type { RenewCasStep } from '../playbook/types.js';
import type { Warning } from '../plan/types.js';
import { parseCertificates, renewCa as renewCaCert, verifyIssuedBy } from '../pki/index.js';
import { queryKubeadm, type KubeadmHostFacts } from '../facts/kubeadm.js';
import type { PrepareResult, StepModule } from './types.js';
import type { Secret } from '../secret.js';
import { applyRenewals, certDirFindings, emptyData, newFile, pkiFinding, planRenewals, readSecrets, resumeState, type KubeadmStepData, type Renewal } from './kubeadm-files.js';
import { LEAF_CA, keyTypeOf } from './renew-leaves.js';

const DAY = 86_400_000;

export const renewCas: StepModule<RenewCasStep> = {
  type: 'renew-cas',
  needs: ['preflight', 'backup'],
  changesLiveState: true,
  async prepare(spec, ctx): Promise<PrepareResult> {
    const hosts = ctx.hostsOf(spec.targets).filter((h) => ctx.remote(h));
    const findings: Warning[] = certDirFindings(ctx, hosts);
    if (findings.length) return { needed: false, reasons: [], findings, data: emptyData() };
    const notes: string[] = [];
    const p = (n: string, ext: string) => `${spec.pkiDir}/${n}.${ext}`;
    const leavesOf = (ca: string) => Object.keys(LEAF_CA).filter((l) => LEAF_CA[l] === ca);
    const per: Array<{ host: string; dir: string; f: KubeadmHostFacts }> = [];
    await Promise.all(
      hosts.map(async (host) => {
        const dir = ctx.host(host).vars.certDir;
        const leaves = spec.cas.flatMap(leavesOf);
        const q = {
          dir,
          files: spec.cas.flatMap((c) => [p(c, 'crt'), p(c, 'key')]),
          certs: [...spec.cas.map((c) => p(c, 'crt')), ...leaves.map((l) => p(l, 'crt'))],
          kubeconfigs: [],
        };
        per.push({ host, dir, f: await queryKubeadm(ctx.remote(host)!, host, q, ctx.host(host).ssh.commandTimeout * 1000) });
      }),
    );
    per.sort((a, b) => hosts.indexOf(a.host) - hosts.indexOf(b.host));

    // Per CA: present everywhere, the same certificate and key on every node (or no key anywhere: an external CA).
    type Todo = { ca: string; pem: string; hosts: typeof per; keyHost: string; doneHosts: string[] };
    const todo: Todo[] = [];
    let earliest: { at: string; what: string } | undefined;
    for (const ca of spec.cas) {
      const crt = p(ca, 'crt');
      const key = p(ca, 'key');
      const missing = per.filter((x) => !x.f.pems[crt]);
      for (const x of missing) findings.push({ level: 'block', code: 'ca-missing', host: x.host, message: `${x.host}: the CA certificate ${x.dir}/${crt} is missing` });
      if (missing.length) continue;
      const withKey = per.filter((x) => x.f.files[key]);
      if (!withKey.length) {
        notes.push(`${ca}: no key on any node (${per.map((x) => `${x.host}:${x.dir}/${key}`).join(', ')}): an external CA, left alone`);
        continue;
      }
      if (withKey.length < per.length) {
        const without = per.filter((x) => !x.f.files[key]).map((x) => x.host);
        findings.push({ level: 'block', code: 'ca-key-missing', message: `${ca}: the key ${key} is on ${withKey.map((x) => x.host).join(', ')} but not on ${without.join(', ')}: kubeadm copies it to every control-plane node; copy it there (mode 0600) or leave those nodes out of the step's targets` });
        continue;
      }
      // On resume, nodes whose CA is already the one the stopped run wrote: the others get that same certificate.
      const state = new Map(per.map((x) => [x.host, resumeState(ctx, x.host, [`${x.dir}/${crt}`], () => x.f.files[crt]?.sha256)]));
      const done = per.filter((x) => state.get(x.host) === 'done');
      const rest = per.filter((x) => state.get(x.host) !== 'done');
      const differ = (what: string, val: (x: (typeof per)[number]) => string | undefined, among: typeof per) => {
        const distinct = [...new Set(among.map(val))];
        if (distinct.length < 2) return false;
        findings.push({
          level: 'block',
          code: 'ca-differs',
          message: `${ca}: the nodes hold different ${what} (${among.map((x) => `${x.host} sha256 ${(val(x) ?? '-').slice(0, 16)}…`).join(', ')}): one CA must be the same on every control-plane node; make them the same (kubeadm copies them) before renewing it`,
        });
        return true;
      };
      if (differ(`${ca}.key files`, (x) => x.f.files[key]?.sha256, per)) continue;
      if (differ(`${ca}.crt files`, (x) => x.f.files[crt]?.sha256, rest.length ? rest : per)) continue;
      if (done.length && differ(`${ca}.crt files written by run ${ctx.resume!.plan.runId}`, (x) => x.f.files[crt]?.sha256, done)) continue;
      const first = (rest[0] ?? per[0])!;
      const pem = first.f.pems[crt]!;
      try {
        const c = parseCertificates(pem, `${first.host}:${first.dir}/${crt}`)[0]!;
        if (!done.length && (!earliest || c.notAfter < earliest.at)) earliest = { at: c.notAfter, what: `${ca} (${first.host}:${first.dir}/${crt})` };
      } catch (e) {
        findings.push(pkiFinding(e, first.host, `${first.dir}/${crt}`));
        continue;
      }
      if (!rest.length) {
        notes.push(`${ca}: already renewed on every node by run ${ctx.resume!.plan.runId}`);
        continue;
      }
      for (const x of done) notes.push(`${x.host}: ${ca} already renewed by run ${ctx.resume!.plan.runId}`);
      todo.push({ ca, pem, hosts: rest, keyHost: first.host, doneHosts: done.map((x) => x.host) });
    }
    const limit = ctx.now.getTime() + ctx.renewWithinDays * DAY;
    const expiring = earliest !== undefined && Date.parse(earliest.at) <= limit;
    const needed = todo.length > 0 && (expiring || ctx.force || Boolean(ctx.resume));
    const reasons = earliest
      ? [expiring ? `kubeadm CA ${earliest.what} expires ${earliest.at}: within ${ctx.renewWithinDays} days` : `kubeadm CAs valid until ${earliest.at} at least: beyond ${ctx.renewWithinDays} days, nothing to renew (--force renews them anyway)`]
      : [];
    if (!needed || findings.some((w) => w.level === 'block')) return { needed, reasons, findings, data: emptyData(notes) };

    const renewals: Renewal[] = [];
    // The CA keys to sign with, one exec per key host.
    const keyPath = (t: (typeof todo)[number]) => {
      const k = per.find((x) => x.host === t.keyHost)!;
      return `${k.dir}/${p(t.ca, 'key')}`;
    };
    const readers = new Map<string, (path: string) => Secret<string>>();
    for (const host of new Set(todo.filter((t) => !t.doneHosts.length).map((t) => t.keyHost)))
      readers.set(host, await readSecrets(ctx, host, todo.filter((t) => !t.doneHosts.length && t.keyHost === host).map(keyPath)));
    for (const t of todo) {
      const crt = p(t.ca, 'crt');
      const keyHost = per.find((x) => x.host === t.keyHost)!;
      const source = `${keyHost.host}:${keyHost.dir}/${crt}`;
      try {
        let newPem: string;
        if (t.doneHosts.length) {
          // Resuming: the certificate the stopped run made is on those nodes; stage the very same one on the others.
          const d = per.find((x) => x.host === t.doneHosts[0])!;
          newPem = d.f.pems[crt]!;
        } else {
          const r = renewCaCert({
            caCertPem: t.pem,
            caKeyPem: readers.get(keyHost.host)!(keyPath(t)),
            caCertSource: source,
            caKeySource: `${keyHost.host}:${keyHost.dir}/${p(t.ca, 'key')}`,
            days: spec.days,
            now: ctx.now,
          });
          newPem = r.certPem;
        }
        // Mixed trust, before anything is written: the old CA certificate and every leaf of this CA on every node verify
        // against the new certificate (same subject, same key), and the new one against the old.
        const proof: Array<[string, string, string]> = [[t.pem, newPem, `the old ${t.ca}.crt against the new one`], [newPem, t.pem, `the new ${t.ca}.crt against the old one`]];
        for (const x of t.hosts) for (const l of leavesOf(t.ca)) {
          const leaf = x.f.pems[p(l, 'crt')];
          if (leaf) proof.push([leaf, newPem, `${x.host}:${x.dir}/${p(l, 'crt')} against the new ${t.ca}.crt`]);
        }
        let failed = false;
        for (const [cert, ca, what] of proof) {
          const v = verifyIssuedBy(cert, ca);
          if (!v.ok) {
            failed = true;
            findings.push({ level: 'block', code: 'mixed-trust', message: `${t.ca}: ${what} does not verify (${v.reason}): the renewed CA would not be trusted alongside the old one` });
          }
        }
        if (failed) continue;
        const old = parseCertificates(t.pem)[0]!;
        const neu = parseCertificates(newPem)[0]!;
        for (const x of t.hosts) {
          renewals.push({
            host: x.host,
            info: {
              path: `${x.dir}/${crt}`,
              subject: neu.subject.text,
              ca: `${t.ca} (itself, same key)`,
              issuer: neu.issuer.text,
              oldNotAfter: old.notAfter,
              notAfter: neu.notAfter,
              sans: [],
              sansAdded: [],
              sansRemoved: [],
              extKeyUsage: neu.extendedKeyUsage ?? [],
              key: 'kept',
              keyType: keyTypeOf(neu),
            },
            files: [newFile(`${x.dir}/${crt}`, newPem, x.f.files[crt] ?? null, false, neu.notAfter)],
          });
        }
      } catch (e) {
        findings.push(pkiFinding(e, keyHost.host, `${keyHost.dir}/${crt}`));
      }
    }
    renewals.sort((a, b) => hosts.indexOf(a.host) - hosts.indexOf(b.host));
    const data: KubeadmStepData = { renewals, notes };
    return { needed, reasons, findings, data };
  },
  plan(spec, ctx) {
    return planRenewals(ctx, ctx.hostsOf(spec.targets), 'no kubeadm CA to renew');
  },
  apply(step, _spec, ctx) {
    return applyRenewals(step, ctx);
  },
};
