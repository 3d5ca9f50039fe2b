// What the suite reads from one backup by a peer tool (restic, borg): the measured command plus
// the tool's own count of source bytes and the repository's growth on disk.
import type { CommandMeasure } from './measure-command.js';

export interface PeerBackupMeasure extends CommandMeasure {
  /** The tool's own count of source bytes processed (restic total_bytes_processed, borg original_size). */
  bytesRead: number;
  /** Growth of the repository's allocated bytes on disk (du-style) over this backup. */
  bytesAdded: number;
}

/** One peer repository as the suite drives it. */
export interface PeerRepo {
  backup(file: string): Promise<PeerBackupMeasure>;
  restore(snapshot: 'latest' | string, targetDir: string): Promise<CommandMeasure>;
  sizeBytes(): Promise<number>;
}
