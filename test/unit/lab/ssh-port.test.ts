// The lab's sshd port: 22 unless port 22 is held on every address (then 2222), unless the user asked for one.
import { describe, expect, it } from 'vitest';
import { chooseSshPort, listensOnAllAddresses } from '../../../lab/src/ssh-port.js';

// Recorded /proc/net/tcp and tcp6 lines (header, then sockets); 0A is LISTEN, 01 ESTABLISHED.
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const tcp = (...lines: string[]) => [HEADER, ...lines].join('\n') + '\n';
const labSshd = '   0: 0B00147F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 27282 1 0000000000000000 100 0 0 10 0';
const anySshd = '   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 19012 1 0000000000000000 100 0 0 10 0';
const anyClient = '   2: 00000000:0016 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 19013 1 0000000000000000 100 0 0 10 0';
const any2222 = '   3: 00000000:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 19014 1 0000000000000000 100 0 0 10 0';
const any6 = '   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0';

describe('listensOnAllAddresses', () => {
  it('sees an sshd on 0.0.0.0:22 and on [::]:22', () => {
    expect(listensOnAllAddresses(tcp(labSshd, anySshd), 22)).toBe(true);
    expect(listensOnAllAddresses(tcp(any6), 22)).toBe(true);
  });
  it('ignores sockets on one address (the lab itself), other ports, and non-listening sockets', () => {
    expect(listensOnAllAddresses(tcp(labSshd, any2222), 22)).toBe(false);
    expect(listensOnAllAddresses(tcp(any2222), 2222)).toBe(true);
    expect(listensOnAllAddresses(tcp(anyClient), 22)).toBe(false);
    expect(listensOnAllAddresses('', 22)).toBe(false);
  });
});

describe('chooseSshPort', () => {
  const held = () => true;
  const free = () => false;
  it('takes the port asked for, then CERTROLL_LAB_SSH_PORT, without looking', () => {
    expect(chooseSshPort(2200, {}, held)).toEqual({ port: 2200 });
    expect(chooseSshPort(undefined, { CERTROLL_LAB_SSH_PORT: '2022' }, held)).toEqual({ port: 2022 });
  });
  it('uses 22 when it is free on every address, 2222 (saying why) when it is not', () => {
    expect(chooseSshPort(undefined, {}, free)).toEqual({ port: 22 });
    const r = chooseSshPort(undefined, {}, held);
    expect(r.port).toBe(2222);
    expect(r.why).toMatch(/port 22 is held on every address/);
  });
});
