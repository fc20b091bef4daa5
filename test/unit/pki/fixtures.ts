// Test fixtures made at test time with the real openssl and cfssl CLIs, in a private temp dir removed after the tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../../../src/secret.js';
import { asset } from '../../../lab/src/assets.js';

export class Workdir {
  readonly dir = mkdtempSync(join(tmpdir(), 'certroll-pki-'));
  path(name: string): string {
    return join(this.dir, name);
  }
  write(name: string, content: string | Buffer): string {
    const p = this.path(name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  }
  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }
  secret(name: string): Secret<string> {
    return new Secret(this.read(name));
  }
  /** Run a command in the dir; returns stdout (throws with stderr on failure). */
  run(cmd: string, args: string[], input?: string): string {
    return execFileSync(cmd, args, { cwd: this.dir, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  }
  /** stdout+stderr and exit status, never throws. */
  tryRun(cmd: string, args: string[]): { status: number; out: string } {
    try {
      return { status: 0, out: execFileSync(cmd, args, { cwd: this.dir, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }) };
    } catch (e) {
      const err = e as { status?: number; stdout?: string; stderr?: string };
      return { status: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A CA the way TOS makes it: `cfssl gencert -initca`. Writes <name>.pem and <name>-key.pem. */
  cfsslCa(name: string, cn = 'etcd-ca', key = { algo: 'rsa', size: 2048 }): void {
    const csr = { CN: cn, key, names: [{ C: 'CN', ST: 'Beijing', L: 'Beijing', O: 'k8s', OU: 'System' }] };
    const out = JSON.parse(this.run('cfssl', ['gencert', '-initca', '-'], JSON.stringify(csr))) as { cert: string; key: string };
    this.write(`${name}.pem`, out.cert);
    this.write(`${name}-key.pem`, out.key);
  }

  /** The etcd certificate the way TOS makes it: `cfssl gencert -profile=etcd` with a config.json etcd profile. */
  cfsslLeaf(name: string, ca: string, hosts: string[], opts: { cn?: string; expiry?: string; key?: object } = {}): void {
    // TOS's own config.json (lab/assets/tos), its etcd profile's lifetime as asked.
    const config = JSON.parse(asset('tos/config.json')) as { signing: { profiles: { etcd: { expiry: string } } } };
    if (opts.expiry) config.signing.profiles.etcd.expiry = opts.expiry;
    this.write('config.json', JSON.stringify(config));
    const csr = {
      CN: opts.cn ?? 'etcd',
      key: opts.key ?? { algo: 'rsa', size: 2048 },
      names: [{ C: 'CN', ST: 'Beijing', L: 'Beijing', O: 'k8s', OU: 'System' }],
    };
    const args = ['gencert', `-ca=${ca}.pem`, `-ca-key=${ca}-key.pem`, '-config=config.json', '-profile=etcd'];
    if (hosts.length > 0) args.push(`-hostname=${hosts.join(',')}`);
    const out = JSON.parse(this.run('cfssl', [...args, '-'], JSON.stringify(csr))) as { cert: string; key: string };
    this.write(`${name}.pem`, out.cert);
    this.write(`${name}-key.pem`, out.key);
  }

  /** A self-signed CA made by openssl req -x509 (RSA or EC P-256). */
  opensslCa(name: string, opts: { ec?: boolean; days?: number; subj?: string } = {}): void {
    const keyArgs = opts.ec ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
    this.run('openssl', [
      'req', '-x509', ...keyArgs, '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.pem`,
      '-subj', opts.subj ?? '/O=certroll-test/CN=test-ca', '-days', String(opts.days ?? 30),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }

  /** A leaf signed by openssl: RSA key, given SAN extension text (or none) and lifetime. */
  opensslLeaf(name: string, ca: string, opts: { san?: string; days?: number; subj?: string } = {}): void {
    const args = [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.pem`,
      '-subj', opts.subj ?? '/CN=etcd', '-days', String(opts.days ?? 30), '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`,
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
      '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    ];
    if (opts.san) args.push('-addext', `subjectAltName=${opts.san}`);
    this.run('openssl', args);
  }

  /** `openssl x509 -noout -ext …` lines without the indentation. */
  ext(cert: string, exts: string): string[] {
    return this.run('openssl', ['x509', '-in', cert, '-noout', '-ext', exts])
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /** DER of the public key: from a certificate, or from a private key (openssl pkey -pubout). */
  pubFromCert(cert: string): string {
    return this.run('openssl', ['x509', '-in', cert, '-noout', '-pubkey']);
  }
  pubFromKey(key: string): string {
    return this.run('openssl', ['pkey', '-in', key, '-pubout']);
  }
}
