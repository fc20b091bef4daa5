// config.json's "expiry" values changed by text substitution: every other byte kept, the result checked to be JSON.
import { describe, expect, it } from 'vitest';
import { rewriteExpiry } from '../../../src/manager/config-json.js';
import { asset } from '../../../lab/src/assets.js';

/** The Manager's config.json as the lab has it (lab/assets/tos), its last "expiry" spelled with the colon moved, as a hand-edited file may be. */
const LAB = asset('tos/config.json');
const last = LAB.lastIndexOf('"expiry": "87600h"');
const TOS = `${LAB.slice(0, last)}"expiry" :"87600h"${LAB.slice(last + '"expiry": "87600h"'.length)}`;

describe('rewriteExpiry', () => {
  it('changes every "expiry": "87600h" and nothing else, whatever the spacing around the colon', () => {
    expect(TOS).toContain('"expiry" :"87600h"');
    const r = rewriteExpiry(TOS, '87600h', '876000h');
    expect(r.changed).toBe(3);
    expect(r.text).toBe(TOS.replace(/"87600h"/g, '"876000h"'));
    expect(r.text.endsWith('}\n')).toBe(true);
    expect(r.invalid).toBeUndefined();
    expect(JSON.parse(r.text).signing.profiles.etcd.expiry).toBe('876000h');
  });

  it('shows a line diff of exactly the changed lines', () => {
    const r = rewriteExpiry(TOS, '87600h', '876000h');
    expect(r.diff).toEqual([
      '-4:       "expiry": "87600h"',
      '+4:       "expiry": "876000h"',
      '-9:         "expiry": "87600h"',
      '+9:         "expiry": "876000h"',
      '-13:         "expiry" :"87600h"',
      '+13:         "expiry" :"876000h"',
    ]);
  });

  it('keeps CRLF line endings, tabs and key order (no JSON re-serialisation)', () => {
    const crlf = '{\r\n\t"z": 1,\r\n\t"signing": {"default": {"expiry": "87600h", "a": "87600h"}}\r\n}';
    const r = rewriteExpiry(crlf, '87600h', '876000h');
    expect(r.text).toBe('{\r\n\t"z": 1,\r\n\t"signing": {"default": {"expiry": "876000h", "a": "87600h"}}\r\n}');
    expect(r.changed).toBe(1);
  });

  it('leaves other lifetimes and already-changed values alone, and reports the others', () => {
    const r = rewriteExpiry('{"a": {"expiry": "8760h"}, "b": {"expiry": "876000h"}, "c": {"expiry": "876000000h"}}', '87600h', '876000h');
    expect(r.changed).toBe(0);
    expect(r.others).toEqual(['8760h', '876000000h']);
    expect(rewriteExpiry(rewriteExpiry(TOS, '87600h', '876000h').text, '87600h', '876000h').changed).toBe(0);
  });

  it('flags a file that is not JSON to start with', () => {
    const r = rewriteExpiry('{"expiry": "87600h",}', '87600h', '876000h');
    expect(r.originalInvalid).toBeDefined();
    expect(r.invalid).toBeDefined();
  });
});
