// XAPI's NBD export names: `/<vdi uuid>?session_id=<session ref>`. The session in the name is what
// authorises the read, so an export name stops working when its session is logged out or expires,
// and a client asks VDI.get_nbd_info for a fresh one.
import { isUuid } from '../../../shared/ids.js';

export interface ExportName {
  vdiUuid: string;
  sessionRef: string;
}

const PREFIX = '?session_id=';

export function formatExportName(name: ExportName): string {
  return `/${name.vdiUuid}${PREFIX}${name.sessionRef}`;
}

/** The VDI and session named, or undefined when the name is not of XAPI's form. */
export function parseExportName(text: string): ExportName | undefined {
  if (!text.startsWith('/')) return undefined;
  const at = text.indexOf(PREFIX);
  if (at < 0) return undefined;
  const vdiUuid = text.slice(1, at).toLowerCase();
  const sessionRef = text.slice(at + PREFIX.length);
  if (!isUuid(vdiUuid) || sessionRef === '') return undefined;
  return { vdiUuid, sessionRef };
}
