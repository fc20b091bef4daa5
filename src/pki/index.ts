// The PKI library's public API: parse certificates and keys, renew a CA keeping its key, issue the etcd certificate, check a renewal.
export { PkiError, type PkiErrorCode } from './errors.js';
export {
  classifyPem,
  parseCertificates,
  parsePrivateKey,
  publicKeyInfo,
  type ParsedCert,
  type ParsedPrivateKey,
  type PemClass,
  type PemKind,
  type PublicKeyInfo,
  type KeyUsage,
} from './parse.js';
export type { DistinguishedName, NameAttribute, SubjectSpec } from './der.js';
export { renewCa, renewCaDefaults, type RenewCaOptions, type RenewCaResult } from './renew-ca.js';
export { issueLeaf, issueLeafDefaults, type IssueLeafOptions, type IssueLeafResult } from './issue-leaf.js';
export { renewLeaf, generateKeyLike, type RenewLeafOptions, type RenewLeafResult } from './renew-leaf.js';
export { checkRenewal, type CheckRenewalInput, type Finding } from './check.js';
export { verifyIssuedBy, type VerifyOptions, type VerifyResult } from './verify.js';
export { generateKey, privateKeyPem, KEY_TYPES, type KeyType, type KeyEncoding } from './keys.js';
export {
  etcdLeafSans,
  requiredEtcdSans,
  formatSan,
  missingSans,
  normaliseIp,
  normaliseSan,
  parseSan,
  sanDiff,
  sanKey,
  unionSans,
  SanSyntaxError,
  type EtcdSanInput,
  type San,
  type SanDiff,
  type SanMember,
  type SanType,
} from './sans.js';
export type { ValidityOptions } from './validity.js';
export type { IssuerInput } from './issuer.js';
export {
  parseKubeconfig,
  currentUser,
  rewriteClientCredentials,
  proveOnlyCredentialsChanged,
  KubeconfigError,
  type Kubeconfig,
  type KubeconfigUser,
  type KubeconfigCurrent,
  type EmbeddedCert,
  type EmbeddedKey,
  type FileRef,
  type NewCredentials,
  type RewriteProof,
  type ValueSpan,
} from './kubeconfig.js';
