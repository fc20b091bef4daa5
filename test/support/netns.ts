// A network namespace joined to this one by a veth pair: `outside` on this side, `inside` in the namespace (a /30), plus
// addresses that exist only inside it (on its loopback). The bastion e2e tests put sshds or certroll in it.
import { execFileSync, spawnSync } from 'node:child_process';

export interface VethNamespace {
  /** The namespace's name (`ip netns exec NAME …`). */
  name: string;
  /** Delete the veth pair and the namespace (never throws). */
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** `tag` (a few letters) and this process id name the namespace and the veth, so that parallel test files never collide. */
export function vethNamespace(tag: string, outside: string, inside: string, onlyInside: readonly string[] = []): VethNamespace {
  const name = `certroll-${tag}-${process.pid}`;
  const veth = `cr${tag}${process.pid % 100000}`;
  const remove = () => {
    spawnSync('ip', ['link', 'del', `${veth}o`]);
    spawnSync('ip', ['netns', 'del', name]);
  };
  try {
    ip('netns', 'add', name);
    ip('link', 'add', `${veth}o`, 'type', 'veth', 'peer', 'name', `${veth}i`);
    ip('link', 'set', `${veth}i`, 'netns', name);
    ip('addr', 'add', `${outside}/30`, 'dev', `${veth}o`);
    ip('link', 'set', `${veth}o`, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${inside}/30`, 'dev', `${veth}i`);
    ip('netns', 'exec', name, 'ip', 'link', 'set', `${veth}i`, 'up');
    for (const a of onlyInside) ip('netns', 'exec', name, 'ip', 'addr', 'add', `${a}/32`, 'dev', 'lo');
  } catch (e) {
    remove();
    throw e;
  }
  return { name, remove };
}
