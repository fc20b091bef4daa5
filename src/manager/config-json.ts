// The Manager's gencerts config.json: change every "expiry" value from one lifetime to another by text substitution (pure).

export interface ExpiryRewrite {
  /** The new text: identical to the old one except for the replaced values. */
  text: string;
  /** How many "expiry" values were changed. */
  changed: number;
  /** Changed lines as a small diff: `-12:     "expiry": "87600h"` / `+12: …`. */
  diff: string[];
  /** "expiry" values neither `from` nor `to` (left as they are), e.g. `8760h`. */
  others: string[];
  /** Set when the result is not valid JSON (then it must not be written). */
  invalid?: string;
  /** Set when the original was not valid JSON either. */
  originalInvalid?: string;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function jsonProblem(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Replace `"expiry": "<from>"` by `"expiry": "<to>"` wherever it appears, keeping every other byte (spacing, key order,
 * line endings, trailing newline) as it is. JSON re-serialisation would reformat the file; the Manager's diff tools and
 * operators would see the whole file change.
 */
export function rewriteExpiry(text: string, from: string, to: string): ExpiryRewrite {
  const re = new RegExp(`("expiry"\\s*:\\s*)"${escapeRegExp(from)}"`, 'g');
  let changed = 0;
  const out = text.replace(re, (_m, head: string) => {
    changed++;
    return `${head}"${to}"`;
  });
  const others = [...text.matchAll(/"expiry"\s*:\s*"([^"]*)"/g)].map((m) => m[1]!).filter((v) => v !== from && v !== to);
  const before = text.split('\n');
  const after = out.split('\n');
  const diff: string[] = [];
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i]) diff.push(`-${i + 1}: ${before[i]!.replace(/\r$/, '')}`, `+${i + 1}: ${after[i]!.replace(/\r$/, '')}`);
  }
  const r: ExpiryRewrite = { text: out, changed, diff, others };
  const orig = jsonProblem(text);
  if (orig) r.originalInvalid = orig;
  const res = jsonProblem(out);
  if (res) r.invalid = res;
  return r;
}
