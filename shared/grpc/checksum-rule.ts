// The block checksum rule (disk-checksum.ts) as the wire carries it: DiskHeader.checksum_rule and
// VhdStreamStart.checksum_rule (proto/deltachain/storage/v1/disk.proto). One place for both ends.
import { ChecksumRule as WireChecksumRule } from '../proto/gen/deltachain/storage/v1/disk.js';
import type { ChecksumRule } from './disk-checksum.js';

export { WireChecksumRule };

/** The rule a stream announces; undefined for a value this version does not know (a newer peer). */
export function checksumRuleFromWire(rule: WireChecksumRule): ChecksumRule | undefined {
  if (rule === WireChecksumRule.CHECKSUM_RULE_PIECES_BLAKE3) return 'blake3';
  if (rule === WireChecksumRule.CHECKSUM_RULE_PIECES) return 'pieces';
  if (rule === WireChecksumRule.CHECKSUM_RULE_WHOLE) return 'whole';
  return undefined;
}

export function checksumRuleToWire(rule: ChecksumRule): WireChecksumRule {
  if (rule === 'blake3') return WireChecksumRule.CHECKSUM_RULE_PIECES_BLAKE3;
  return rule === 'pieces' ? WireChecksumRule.CHECKSUM_RULE_PIECES : WireChecksumRule.CHECKSUM_RULE_WHOLE;
}
