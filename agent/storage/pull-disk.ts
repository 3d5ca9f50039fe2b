// Receives one disk from a stream of parts another storage agent serves (GetDisk BLOCKS or OWN)
// through the same receiver as PutDisk (disk-receiver.ts, docs/remote-format.md §7): its header
// validation, free-space floor, claim on the disk, block checks, trailer check and final link.
// The header must be the disk the caller expects — its ids, footer uuid and parent — before
// anything is created. Parts are taken one at a time and each block is written (within the
// receiver's bounded write-behind) before the next is pulled, so a disk is never held in memory
// and a slow target slows the source. A stream that fails or ends early leaves nothing: the
// receiver removes its temporary.
import { DiskReceiver, type DiskHeaderInput, type ReceivedDisk } from './disk-receiver.js';
import { StorageRequestError } from './errors.js';
import type { RemoteContext } from './remote-context.js';
import type { ServedPart } from './serve-disk.js';

export interface ExpectedDisk {
  vmUuid: string;
  backupId: string;
  diskKey: string;
  footerUuid: string;
  /** Undefined: a full. */
  parentFooterUuid: string | undefined;
}

export interface PulledDisk {
  header: DiskHeaderInput;
  received: ReceivedDisk;
  /** Block data bytes as they travelled (a packed block's marked sectors only). */
  bytesReceived: number;
}

/**
 * `onBlock` hears of each block written (blocks so far); `take`, when given, is waited on with each
 * block's bytes before it is written (a bandwidth limit: while it waits nothing more is pulled, so
 * HTTP/2 flow control holds the source back).
 */
export async function pullDisk(ctx: RemoteContext, parts: AsyncIterable<ServedPart>, expected: ExpectedDisk, onBlock: (blocks: number) => void = () => undefined, take?: (bytes: number) => Promise<void>): Promise<PulledDisk> {
  let receiver: DiskReceiver | undefined;
  let pulled: PulledDisk | undefined;
  let bytes = 0;
  try {
    for await (const part of parts) {
      if (pulled) throw protocolError(expected, 'a message came after the trailer');
      if (part.kind === 'header') {
        if (receiver) throw protocolError(expected, 'a second header came');
        checkHeader(part.header, expected);
        receiver = await DiskReceiver.start(ctx, part.header);
      } else if (!receiver) {
        throw protocolError(expected, `a ${part.kind} came before the header`);
      } else if (part.kind === 'block') {
        await take?.(part.block.data.length + part.block.bitmap.length + part.block.checksum.length);
        await receiver.addBlock(part.block);
        bytes += part.block.data.length;
        onBlock(receiver.blocksReceived);
      } else {
        pulled = { header: receiver.header, received: await receiver.finish(part.trailer), bytesReceived: bytes };
      }
    }
    if (!pulled) throw protocolError(expected, 'the stream ended before its trailer');
    return pulled;
  } catch (error) {
    if (!pulled) await receiver?.abort();
    throw error;
  }
}

/** The header must announce exactly the disk expected: the same ids, footer uuid and parent. */
function checkHeader(header: DiskHeaderInput, expected: ExpectedDisk): void {
  const differences = [
    header.vmUuid === expected.vmUuid ? undefined : `VM ${header.vmUuid}`,
    header.backupId === expected.backupId ? undefined : `backup ${header.backupId}`,
    header.diskKey === expected.diskKey ? undefined : `disk ${header.diskKey}`,
    header.footerUuid === expected.footerUuid ? undefined : `footer uuid ${header.footerUuid} (expected ${expected.footerUuid})`,
    (header.parentFooterUuid ?? '') === (expected.parentFooterUuid ?? '') ? undefined : `parent ${header.parentFooterUuid ?? 'none'} (expected ${expected.parentFooterUuid ?? 'none'})`,
  ].filter((d) => d !== undefined);
  if (differences.length > 0) throw protocolError(expected, `its header announces ${differences.join(', ')}`);
}

function protocolError(expected: ExpectedDisk, what: string): StorageRequestError {
  return new StorageRequestError(`the stream of disk ${expected.diskKey} of backup ${expected.backupId} (VM ${expected.vmUuid}): ${what}; nothing of it was kept`);
}
