// Private keys in memory: generate (Node's native crypto, off the event loop), export as PEM, derive public parts and key identifiers.
import { createHash, createPublicKey, generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { Secret } from '../secret.js';
import { bytesOf, children, encodeDer, fromBinary, parseDer, type Asn1 } from './der.js';

const generateKeyPair = promisify(generateKeyPairCb);

export type KeyType = 'rsa2048' | 'rsa4096' | 'ecdsa-p256';
export const KEY_TYPES: readonly KeyType[] = ['rsa2048', 'rsa4096', 'ecdsa-p256'];

/** How a generated private key is written: `traditional` = PKCS#1 for RSA / SEC1 for EC (what cfssl writes), or PKCS#8. */
export type KeyEncoding = 'traditional' | 'pkcs8';

/**
 * A new private key. Uses Node's native generator (OpenSSL, on the libuv thread pool) rather than node-forge's pure-JS
 * RSA generator: measured by bench/pki/run.mjs, forge needs seconds for RSA-2048 and blocks the event loop meanwhile.
 */
export async function generateKey(type: KeyType): Promise<KeyObject> {
  switch (type) {
    case 'rsa2048':
    case 'rsa4096': {
      const { privateKey } = await generateKeyPair('rsa', {
        modulusLength: type === 'rsa2048' ? 2048 : 4096,
        publicExponent: 0x10001,
      });
      return privateKey;
    }
    case 'ecdsa-p256': {
      const { privateKey } = await generateKeyPair('ec', { namedCurve: 'prime256v1' });
      return privateKey;
    }
  }
}

/** PEM of a private key, wrapped so that it can never be printed by accident. */
export function privateKeyPem(key: KeyObject, encoding: KeyEncoding = 'traditional'): Secret<string> {
  const type = encoding === 'pkcs8' ? 'pkcs8' : key.asymmetricKeyType === 'rsa' ? 'pkcs1' : key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs8';
  return new Secret(key.export({ type, format: 'pem' }) as string);
}

/** SubjectPublicKeyInfo DER of a private or public key. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING (without tag, length and unused-bits byte). */
export function keyIdentifier(spki: Buffer | Asn1): Buffer {
  const node = Buffer.isBuffer(spki) ? parseDer(spki) : spki;
  const bitString = children(node)[1]!;
  return createHash('sha1').update(fromBinary(bytesOf(bitString)).subarray(1)).digest();
}

export function spkiEquals(a: Buffer | Asn1, b: Buffer | Asn1): boolean {
  const da = Buffer.isBuffer(a) ? a : encodeDer(a);
  const db = Buffer.isBuffer(b) ? b : encodeDer(b);
  return da.equals(db);
}
