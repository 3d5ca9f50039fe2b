// Applies planned writes to a lab disk the way a guest would change it: each extent gets the
// seeded content of the chosen kind (content-kind.ts) for its offset, written through one copy-on-write writer (one commit
// for the whole plan), at most one block of content in memory at a time.
import type { LabState } from '../state/lab-state.js';
import { refreshUtilisation } from '../model/vdi-operations.js';
import { contentSource, type ContentKind } from './content-kind.js';
import { totalBytes, type Extent } from './write-plan.js';

export interface WriteResult {
  extents: number;
  /** Bytes written. */
  bytes: number;
  /** 2 MiB blocks touched. */
  blocks: number;
}

export async function applyWrites(state: LabState, vdiRef: string, extents: Extent[], seed: number, content: ContentKind = 'random'): Promise<WriteResult> {
  const vdi = state.records.get('VDI', vdiRef);
  const bytesAt = contentSource(content, seed);
  const writer = await state.disks.openWriter(vdi.uuid);
  const chunk = writer.blockSize;
  try {
    for (const extent of extents) {
      for (let done = 0; done < extent.length; done += chunk) {
        const offset = extent.offset + done;
        await writer.writeAt(offset, bytesAt(offset, Math.min(chunk, extent.length - done)));
      }
    }
    await writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
  refreshUtilisation(state, vdiRef);
  return { extents: extents.length, bytes: totalBytes(extents), blocks: writer.blocksChanged };
}
