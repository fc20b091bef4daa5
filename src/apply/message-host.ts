// Which host an engine message is about, when its work item does not say (pure).

/**
 * The host a message is about, when the work item has none of its own: rolling-restart's items are titled "node 1/3"
 * and name the host at the start of each message ("tos-2 (leader): checking…", "tos-2: stopped; pausing 30s").
 */
export function hostInMessage(message: string | undefined, hosts: readonly string[]): string | undefined {
  if (!message) return undefined;
  let best: string | undefined;
  for (const h of hosts) {
    if (message.startsWith(h) && /^(:|\s\()/.test(message.slice(h.length)) && (!best || h.length > best.length)) best = h;
  }
  return best;
}
