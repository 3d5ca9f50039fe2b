// What the lab pool of this checkout supports beyond the basics, found by asking its own config
// schema and pattern list (not by version): the `mixed` disk content and the `clustered-64k`
// write pattern were added while the suite was written, so the harness asks for them only when
// present and says what it used.
import { parseLabConfig, WRITE_PATTERNS } from '../../../lab/pool/index.js';

export interface LabFeatures {
  /** A disk in the fleet config may say `content: "mixed"`, and /lab/write takes `content`. */
  mixedContent: boolean;
  writePatterns: readonly string[];
}

export function labFeatures(): LabFeatures {
  return { mixedContent: acceptsDiskContent(), writePatterns: [...WRITE_PATTERNS] };
}

function acceptsDiskContent(): boolean {
  try {
    parseLabConfig({ state: 'probe', fleet: { vms: [{ name: 'probe', disks: [{ size: 2 * 1024 * 1024, content: 'mixed' }] }] } });
    return true;
  } catch {
    return false;
  }
}
