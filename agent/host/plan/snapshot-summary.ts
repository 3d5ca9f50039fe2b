// The plain view of a snapshot VM that the pure decisions work on: what XAPI says about it, and
// its VDIs keyed by the disk they copy. Built by the executor from XAPI records.
import type { OtherConfig, XapiRef } from '../xapi/xapi-records.js';

export interface SnapshotVdiSummary {
  ref: XapiRef;
  uuid: string;
  /** The source VDI's uuid (the disk key); from the `deltachain:vdi` tag or `snapshot_of`. */
  diskKey: string | undefined;
}

export interface SnapshotSummary {
  ref: XapiRef;
  uuid: string;
  nameLabel: string;
  /** XAPI's `snapshot_time`, `YYYYMMDDTHH:MM:SSZ`. */
  snapshotTime: string;
  otherConfig: OtherConfig;
  vdis: SnapshotVdiSummary[];
}
