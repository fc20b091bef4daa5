// Command line of the local lab (`npm run lab -- up|down|status|reset|stop-sshd|start-sshd|exec`); see docs/lab.md.
import { spawn } from 'node:child_process';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { defaults, defaultsOf, FLAVOURS, type LabFlavour } from './layout.js';
import { down, labExec, loadState, reset, startSshd, status, stopSshd, up, anchorAlive, type LabStatus } from './lab.js';
import { hostEnv, nsenterArgs } from './proc.js';
import { ensurePackages, PACKAGES } from './packages.js';

const say = (msg: string) => process.stdout.write(msg + '\n');
// `npm run lab -- status | head`: a closed pipe is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

function printStatus(s: LabStatus): void {
  say(`lab ${s.dir}: ${s.up ? 'UP' : 'NOT HEALTHY'}   inventory ${s.inventory}`);
  const shown = s.hosts.filter((h) => !h.roles.includes('extra'));
  const extra = s.hosts.filter((h) => h.roles.includes('extra'));
  for (const h of shown) {
    const procs = [
      `anchor ${h.anchor.pid}${h.anchor.alive ? '' : ' DEAD'}`,
      `sshd ${h.sshd.pid ?? '-'}${h.sshd.reachable ? ' ok' : ' UNREACHABLE'}`,
      ...(h.kubelet ? [`kubelet ${h.kubelet.pid}${h.kubelet.alive ? '' : ' DEAD'}`] : []),
      ...(h.mariadb ? [`mariadb ${h.mariadb.pid}${h.mariadb.listening ? ' ok' : ' DOWN'}`] : []),
    ];
    const certs = Object.entries(h.certs).map(([f, c]) => `${f} ${'notAfter' in c ? c.notAfter.slice(0, 16) : 'MISSING'}`);
    say(`  ${h.name.padEnd(12)} ${h.address.padEnd(14)} ${h.roles.join(',').padEnd(11)} ${procs.join(', ')}`);
    say(`  ${''.padEnd(12)} ${''.padEnd(14)} ${''.padEnd(11)} ${certs.join(', ')}${h.containers.length ? `; running: ${h.containers.join(', ')}` : ''}`);
  }
  if (extra.length) {
    const bad = extra.filter((h) => !h.anchor.alive || !h.sshd.reachable);
    say(`  + ${extra.length} extra hosts (${extra[0]!.address} …): ${bad.length ? `${bad.length} unreachable: ${bad.slice(0, 10).map((h) => h.name).join(', ')}` : 'all reachable'}`);
  }
  for (const e of s.etcd) say(`  etcd ${e.endpoint}: ${e.health ? 'healthy' : `UNHEALTHY ${e.error ?? ''}`}`);
  // TOS: "NODE"; kubeadm: "NODE COMPONENT" (apiserver /readyz, controller-manager and scheduler /healthz).
  for (const [n, ok] of Object.entries(s.apiserver)) say(`  ${n.includes(' ') ? n : `apiserver ${n}`}: ${ok ? 'ok' : 'NOT OK'}`);
}

async function main(): Promise<number> {
  let code = 0;
  const dirOpt = {
    flavour: { type: 'string' as const, choices: FLAVOURS as unknown as string[], default: 'tos', describe: 'tos: the TOS lab; kubeadm: the kubeadm lab (its own dir, subnet, hosts)' },
    dir: { type: 'string' as const, describe: `lab state dir (default: ${defaults.dir} or env CERTROLL_LAB_DIR; with --flavour kubeadm ${defaultsOf('kubeadm').dir} or env CERTROLL_KUBEADM_LAB_DIR)` },
  };
  const dirOf = (a: { dir?: string; flavour?: string }) => a.dir ?? defaultsOf(a.flavour as LabFlavour).dir;
  await yargs(hideBin(process.argv))
    .scriptName('npm run lab --')
    .strict()
    .command('up', 'bring the lab up (idempotent)', (y) => y.options({
      ...dirOpt,
      subnet: { type: 'string', describe: 'loopback /16 for the hosts (127.X; default 127.20 or env CERTROLL_LAB_SUBNET, kubeadm 127.21)' },
      names: { type: 'string', describe: 'comma-separated host names: 3 masters, flannel-only, manager (kubeadm: 3 control-plane, 1 worker)' },
      'name-prefix': { type: 'string', describe: 'host names PREFIX-1..PREFIX-5 (kubeadm: ..PREFIX-4)' },
      extra: { type: 'number', default: 0, describe: 'bare extra hosts (sshd + cert dir) at 127.X.1.1…' },
      'ssh-port': { type: 'number', describe: 'sshd port of every host (default: env CERTROLL_LAB_SSH_PORT, else 22, or 2222 when port 22 is held on every address)' },
      days: { type: 'number', default: defaults.days, describe: 'days until the original etcd CA expires' },
    }), async (a) => {
      await up({ flavour: a.flavour as LabFlavour, dir: dirOf(a), subnet: a.subnet, names: a.names?.split(',').map((s) => s.trim()), namePrefix: a['name-prefix'], extra: a.extra, sshPort: a['ssh-port'], days: a.days }, say);
    })
    .command('packages', 'install the Debian packages the lab and the tests need (as root), or name the missing ones and exit 1', (y) => y, async () => {
      await ensurePackages(say);
      say(`Debian packages: all ${PACKAGES.length} installed (${PACKAGES.map((p) => p.name).join(' ')})`);
      if (process.getuid?.() !== 0) say('note: not root: the lab, the end-to-end tests and the MariaDB tests need root and will fail');
    })
    .command('down', 'stop everything the lab started and remove its state', (y) => y.options(dirOpt), async (a) => {
      await down(dirOf(a), say);
    })
    .command('status', 'hosts, processes, sshd, etcd health, cert dates', (y) => y.options({ ...dirOpt, json: { type: 'boolean', default: false } }), async (a) => {
      const s = await status(dirOf(a));
      if (a.json) say(JSON.stringify(s, null, 2));
      else printStatus(s);
      if (!s.up) code = 1;
    })
    .command('reset', 'restore the original expiring PKI, manifests, manager DB and templates; restart etcd; wait until healthy', (y) => y.options(dirOpt), async (a) => {
      await reset(dirOf(a), say);
    })
    .command('stop-sshd <host>', "stop a host's sshd and its connections", (y) => y.options(dirOpt).positional('host', { type: 'string', demandOption: true }), async (a) => {
      await stopSshd(dirOf(a), a.host);
      say(`sshd of ${a.host} stopped`);
    })
    .command('start-sshd <host>', "start a host's sshd again", (y) => y.options(dirOpt).positional('host', { type: 'string', demandOption: true }), async (a) => {
      await startSshd(dirOf(a), a.host);
      say(`sshd of ${a.host} started`);
    })
    .command('exec <host> [cmd..]', "run a command inside a host's namespaces: exec HOST -- CMD…", (y) => y.options(dirOpt).positional('host', { type: 'string', demandOption: true }).positional('cmd', { type: 'string', array: true }), async (a) => {
      const argv = [...(a.cmd ?? []), ...((a['--'] as unknown[] | undefined) ?? [])].map(String);
      if (!argv.length) throw new Error('exec: give a command after --');
      const dir = dirOf(a);
      const state = loadState(dir);
      const h = state?.hosts.find((x) => x.name === a.host || x.address === a.host);
      if (!state || !h || !anchorAlive(h)) {
        await labExec(dir, a.host, argv); // throws the explanation
        return;
      }
      code = await new Promise<number>((res) => {
        const c = spawn('nsenter', [...nsenterArgs(h.anchorPid), ...argv], { stdio: 'inherit', env: hostEnv, cwd: '/' });
        c.on('close', (rc, sig) => res(rc ?? (sig ? 128 : 1)));
        c.on('error', () => res(127));
      });
    })
    .demandCommand(1)
    .parserConfiguration({ 'populate--': true })
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
