// The Debian packages the lab and the test suite need, in one list, and the one function that installs (as root) or names
// (otherwise) the missing ones: used by `lab up` (so `npm run demo`) and by `npm test`'s pretest step (`lab packages`).
import { existsSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { run, runOk } from './proc.js';

export interface DebianPackage {
  name: string;
  /** Why it is needed (shown when it is missing). */
  why: string;
}

/** Every Debian package the lab and the tests use; .ci/run and the README rely on this being the whole list. */
export const PACKAGES: readonly DebianPackage[] = [
  { name: 'openssh-server', why: "the lab hosts' sshd" },
  { name: 'openssh-client', why: 'ssh-keygen for the lab and test keys' },
  { name: 'etcd-server', why: "the lab's etcd members" },
  { name: 'etcd-client', why: 'etcdctl, on the hosts and in the tests' },
  { name: 'mariadb-server', why: "the Manager's database (lab and tests)" },
  { name: 'mariadb-client', why: 'the mysql client the manager-db step runs on the host' },
  { name: 'golang-cfssl', why: 'cfssl: test fixtures make certificates the way TOS does' },
  { name: 'openssl', why: "the labs' PKI (TOS and kubeadm) and the test fixtures" },
  { name: 'sudo', why: 'the become (sudo) tests' },
  { name: 'procps', why: 'ps, kill: looking into and stopping lab processes by hand' },
  { name: 'util-linux', why: 'unshare/nsenter: the lab hosts are namespaces' },
  { name: 'iproute2', why: "ss: what listens on the lab's addresses" },
  { name: 'python3', why: "the lab's stand-ins: kubelet, apiserver, docker (TOS); kube-apiserver, controller-manager, scheduler, crictl (kubeadm)" },
  { name: 'busybox', why: "the check scan script is tested with busybox's awk" },
  { name: 'time', why: '/usr/bin/time in the check benchmark' },
];

export type Log = (msg: string) => void;

/** Names from `dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n'` output that are installed ("ii"). */
export function installedFromDpkgQuery(stdout: string): Set<string> {
  return new Set(
    stdout
      .split('\n')
      .filter((l) => /\sii\s*$/.test(l))
      .map((l) => l.split(' ')[0]!.replace(/:.*$/, '')),
  );
}

/** The packages of `wanted` that dpkg does not list as installed. */
export async function missingPackages(wanted: readonly DebianPackage[] = PACKAGES): Promise<DebianPackage[]> {
  let stdout: string;
  try {
    // Exits 1 when some package is unknown to dpkg; what it printed is still right for the others.
    stdout = (await run('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Abbrev}\n', ...wanted.map((p) => p.name)])).stdout;
  } catch {
    throw new Error(`dpkg-query not found: the lab and the tests need a Debian or Ubuntu machine with: ${wanted.map((p) => p.name).join(' ')}`);
  }
  const installed = installedFromDpkgQuery(stdout);
  return wanted.filter((p) => !installed.has(p.name));
}

/** The message for a user who is not root: every missing package, why, and the one command that installs them. */
export function missingMessage(missing: readonly DebianPackage[]): string {
  const width = Math.max(...missing.map((p) => p.name.length));
  return [
    `missing Debian packages (${missing.length}):`,
    ...missing.map((p) => `  ${p.name.padEnd(width)}  ${p.why}`),
    'install them as root, keeping their own services from starting (the lab runs its own):',
    `  printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \\`,
    `    && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing.map((p) => p.name).join(' ')} \\`,
    `    ; rm -f /usr/sbin/policy-rc.d`,
    'or run `npm run lab -- packages` as root, which does the same.',
  ].join('\n');
}

export class MissingPackages extends Error {
  override name = 'MissingPackages';
  constructor(readonly missing: readonly DebianPackage[]) {
    super(missingMessage(missing));
  }
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/**
 * Make sure every package is installed: as root, install the missing ones with apt-get, with a policy-rc.d that keeps
 * their services (sshd, etcd, mariadb on the machine's own ports) from starting; otherwise throw MissingPackages naming them.
 */
export async function ensurePackages(log: Log, wanted: readonly DebianPackage[] = PACKAGES, isRoot = process.getuid?.() === 0): Promise<void> {
  const missing = await missingPackages(wanted);
  if (!missing.length) return;
  if (!isRoot) throw new MissingPackages(missing);
  log(`installing ${missing.map((p) => p.name).join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const ownPolicy = !existsSync(POLICY_RC_D);
  if (ownPolicy) {
    await writeFile(POLICY_RC_D, '#!/bin/sh\n# written by certroll lab while installing packages: start no service\nexit 101\n');
    await chmod(POLICY_RC_D, 0o755);
  }
  try {
    // A stale or unreachable mirror list still lets install work from the cache: do not stop on update.
    const u = await run('apt-get', ['update', '-q'], { env });
    if (u.code !== 0) log(`apt-get update exited ${u.code}; trying the install anyway`);
    await runOk('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing.map((p) => p.name)], { env });
  } finally {
    if (ownPolicy) await rm(POLICY_RC_D, { force: true });
  }
  const still = await missingPackages(missing);
  if (still.length) throw new MissingPackages(still);
}
