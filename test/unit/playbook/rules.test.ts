// One test per load-time playbook rule: each refuses with the file, the line and the field of the culprit, and the
// shipped playbook passes them all.
import { describe, expect, it } from 'vitest';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { parseGoDuration } from '../../../src/playbook/rules.js';
import { InputError, formatInputIssue } from '../../../src/errors.js';

/** A valid playbook whose steps can be replaced; `steps` is YAML text of the list items. */
const HEAD = 'name: t\n';
const ALL = [
  '  - type: preflight',
  '  - type: backup',
  '  - type: renew-ca',
  '  - type: issue-cert',
  '  - type: distribute',
  '  - type: rolling-restart',
  '  - type: restart-flannel\n    command: [/bin/true]',
  '  - type: verify',
  '  - type: manager-templates',
  '  - type: manager-db',
];
const text = (steps: string[], extra = '') => `${HEAD}${extra}steps:\n${steps.join('\n')}\n`;

/** The issues of a playbook text, formatted as the CLI prints them. */
function issues(t: string): string[] {
  try {
    parsePlaybook(t, 'pb.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).issues.map(formatInputIssue);
  }
  return [];
}
const lineOf = (t: string, needle: string) => t.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('load-time playbook rules', () => {
  it('accepts the full step sequence', () => {
    expect(issues(text(ALL))).toEqual([]);
  });

  it('preflight first: missing, not first, or twice is refused at the step', () => {
    expect(issues(text(ALL.slice(1)))).toEqual([expect.stringMatching(/^steps: no preflight step: .*first step \(pb\.yaml:3:3\)$/)]);
    const late = text([ALL[1]!, ALL[0]!, ...ALL.slice(2)]);
    expect(issues(late)).toEqual([expect.stringMatching(new RegExp(`^steps\\[1\\]\\.type: preflight is step 2: it must be the first step .*\\(pb\\.yaml:${lineOf(late, 'type: preflight')}:`))]);
    const twice = text([...ALL, '  - type: preflight']);
    expect(issues(twice)[0]).toMatch(/steps\[10\]\.type: a second preflight step \(the first is step 1\)/);
  });

  it('backup before any step that writes on a host (renew-ca, issue-cert, distribute, restart, flannel, manager)', () => {
    for (const writer of ALL.slice(2).filter((s) => !s.includes('verify'))) {
      const t = text([ALL[0]!, writer, ALL[1]!]);
      const type = /type: ([a-z-]+)/.exec(writer)![1]!;
      expect(issues(t).join('\n')).toMatch(new RegExp(`steps\\[1\\]\\.type: ${type} \\(step 2\\) changes hosts before the backup \\(step 3\\).*pb\\.yaml:4:`));
    }
    expect(issues(text([ALL[0]!, ALL[2]!]))[0]).toMatch(/steps\[1\]\.type: renew-ca changes hosts but the playbook has no backup step/);
    // verify only reads: no backup needed.
    expect(issues(text([ALL[0]!, '  - type: verify']))).toEqual([]);
  });

  it('renew-ca and issue-cert before distribute, once each', () => {
    const t = text([ALL[0]!, ALL[1]!, ALL[4]!, ALL[2]!, ALL[3]!]);
    const got = issues(t).join('\n');
    expect(got).toMatch(/steps\[3\]\.type: renew-ca \(step 4\) comes after distribute \(step 3\)/);
    expect(got).toMatch(/steps\[4\]\.type: issue-cert \(step 5\) comes after distribute \(step 3\)/);
    expect(issues(text([...ALL.slice(0, 4), ALL[3]!, ...ALL.slice(4)]))[0]).toMatch(/steps\[4\]\.type: a second issue-cert step/);
  });

  it('distribute before rolling-restart', () => {
    const t = text([ALL[0]!, ALL[1]!, ALL[2]!, ALL[3]!, ALL[5]!, ALL[4]!]);
    expect(issues(t)).toEqual([expect.stringMatching(new RegExp(`^steps\\[4\\]\\.type: rolling-restart \\(step 5\\) comes before any distribute step.*\\(pb\\.yaml:${lineOf(t, 'rolling-restart')}:`))]);
  });

  it('one rolling-restart per group (also via all and first(GROUP))', () => {
    expect(issues(text([...ALL.slice(0, 6), '  - type: rolling-restart\n    targets: [etcd]']))[0]).toMatch(/steps\[6\]\.targets: "etcd" is already restarted by step 6: one rolling-restart per group/);
    expect(issues(text([...ALL.slice(0, 6), '  - type: rolling-restart\n    targets: all']))[0]).toMatch(/steps\[6\]\.targets: "all" is already restarted by step 6/);
    expect(issues(text([...ALL.slice(0, 6), '  - type: rolling-restart\n    targets: [first(etcd)]']))[0]).toMatch(/"first\(etcd\)" is already restarted/);
    expect(issues(text([...ALL.slice(0, 6), '  - type: rolling-restart\n    targets: [master]']))).toEqual([]);
  });

  it('files are names or relative paths inside the cert dir: not absolute, no . or .. part', () => {
    for (const bad of ['a/../b.pem', '../x', '.', '..', '/etc/passwd', 'a//b', 'pki/./ca.crt'])
      expect(issues(text(ALL, `files:\n  cert: "${bad}"\n`))).toEqual([expect.stringMatching(/^files\.cert: expected a file name or a relative path inside the cert dir.*\(pb\.yaml:3:/)]);
    expect(issues(text(ALL, 'files:\n  cert: pki/etcd/healthcheck-client.crt\n'))).toEqual([]);
  });

  it('files are unique and nothing writes over the CA key', () => {
    expect(issues(text(ALL, 'files:\n  cert: etcd-ca-key.pem\n'))).toEqual([expect.stringMatching(/^files\.cert: files\.cert is "etcd-ca-key\.pem", the same file as files\.caKey: the CA key would be written over.*\(pb\.yaml:3:/)]);
    expect(issues(text(ALL, 'files:\n  ca: x.pem\n  key: x.pem\n'))[0]).toMatch(/^files\.key: files\.key is "x\.pem", the same file as files\.ca; the four files must have different names/);
  });

  it('manifests are plain names', () => {
    for (const bad of ['../x.manifest', 'a/b', '.', '..'])
      expect(issues(text([...ALL.slice(0, 5), `  - type: rolling-restart\n    manifests: ["${bad}"]`]))).toEqual([expect.stringMatching(/^steps\[5\]\.manifests\[0\]: expected a plain file name.*\(pb\.yaml:\d+:/)]);
  });

  it('stopTimeoutSeconds and healthTimeoutSeconds are > 0; pauseSeconds may be 0 but not negative or fractional', () => {
    for (const f of ['stopTimeoutSeconds', 'healthTimeoutSeconds'])
      for (const bad of ['0', '-1', '.nan', '.inf', '1e309', '"ten"'])
        expect(issues(text([...ALL.slice(0, 5), `  - type: rolling-restart\n    ${f}: ${bad}`]))).toEqual([expect.stringMatching(new RegExp(`^steps\\[5\\]\\.${f}: expected an integer 1-3600`))]);
    expect(issues(text([...ALL.slice(0, 5), '  - type: rolling-restart\n    pauseSeconds: 0']))).toEqual([]);
    for (const bad of ['-1', '.nan', '.inf', '2.5'])
      expect(issues(text([...ALL.slice(0, 5), `  - type: rolling-restart\n    pauseSeconds: ${bad}`]))).toEqual([expect.stringMatching(/^steps\[5\]\.pauseSeconds: expected an integer 0-3600/)]);
  });

  it('manager-templates.expiry is not shorter than expiryFrom (Go durations)', () => {
    const mt = (from: string, to: string) => text([...ALL.slice(0, 8), `  - type: manager-templates\n    expiryFrom: "${from}"\n    expiry: "${to}"`]);
    expect(issues(mt('87600h', '8760h'))).toEqual([expect.stringMatching(/^steps\[8\]\.expiry: expiry 8760h is shorter than expiryFrom 87600h: a renewal never shortens a lifetime \(pb\.yaml:\d+:/)]);
    expect(issues(mt('87600h', '87600h'))).toEqual([]);
    expect(issues(mt('8760h', '8760h30m'))).toEqual([]);
    expect(issues(mt('87600h', '876000h'))).toEqual([]);
    expect(issues(mt('87600h', '1e9h'))[0]).toMatch(/^steps\[8\]\.expiry: expected a Go duration/);
    expect(issues(mt('87600', '876000h'))[0]).toMatch(/^steps\[8\]\.expiryFrom: expected a Go duration/);
    expect(parseGoDuration('87600h')).toBe(87600 * 3_600_000);
    expect(parseGoDuration('1h30m10s500ms')).toBe(5_410_500);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    for (const bad of ['', 'h', '10', '10d', '-1h', '1h ', 'NaNh']) expect(parseGoDuration(bad)).toBeUndefined();
  });

  it('templates: malformed {{, expressions, filters and prototype names are refused where they are written', () => {
    const rr = (arg: string) => text([...ALL.slice(0, 5), `  - type: rolling-restart\n    apiserverCheck: [sh, -c, "${arg}"]`]);
    const cases: Array<[string, RegExp]> = [
      ['echo {{ host.ip', /unclosed "\{\{"/],
      ['echo {{ host.ip | upper }}', /a filter in \{\{ host\.ip \| upper \}\}/],
      ['echo {{ 1 + 2 }}', /\{\{ 1 \+ 2 \}\}: an expression, not a plain reference/],
      ['echo {{ }}', /an empty \{\{ \}\}/],
      ['echo {{ vars.constructor }}', /"constructor" is not a field name/],
      ['echo {{ host.__proto__.x }}', /"__proto__" is not a field name/],
      ['echo {{ env.HOME }}', /unknown reference; expected one starting with vars, host, files, etcd/],
      ['echo {{ host.nosuch }}', /\{\{ host\.nosuch \}\}: unknown reference; host has host\.name, host\.hostname, host\.address, host\.ip/],
      ['echo {{ files.caKey.x }}', /unknown reference; files has/],
    ];
    for (const [arg, re] of cases) {
      const t = rr(arg);
      const got = issues(t);
      expect(got, arg).toEqual([expect.stringMatching(re)]);
      expect(got[0]).toMatch(new RegExp(`^steps\\[5\\]\\.apiserverCheck\\[2\\]: .*\\(pb\\.yaml:${lineOf(t, 'apiserverCheck')}:`));
    }
    expect(issues(rr('echo {{ vars.certDir }} {{host.ip}} {{ files.caKey }}; awk {print}}'))).toEqual([]);
  });

  it('templates only where they are filled in: a "{{" in containerNames would stay literal', () => {
    const t = text([...ALL.slice(0, 5), '  - type: rolling-restart\n    containerNames: ["{{ host.name }}"]']);
    expect(issues(t)).toEqual([expect.stringMatching(/^steps\[5\]\.containerNames\[0\]: "\{\{" is only filled in in etcdctl, rolling-restart\.containerCheck/)]);
  });
});
