export * from './constants.js';
export { vhdChecksum } from './checksum.js';
export { VhdFormatError } from './errors.js';
export { computeGeometry, type Geometry } from './geometry.js';
export { NIL_UUID, isUuid, uuidToBytes, bytesToUuid } from './uuid.js';
export {
  type Footer,
  type NewFooterOptions,
  newFooter,
  encodeFooter,
  decodeFooter,
  vhdTimestamp,
  dateFromVhdTimestamp,
} from './footer.js';
export {
  type DynamicHeader,
  type ParentLocator,
  PlatformCode,
  newHeader,
  emptyLocator,
  encodeHeader,
  decodeHeader,
  encodeUtf16Be,
  decodeUtf16Be,
} from './header.js';
export { decodeBat, encodeBat, newBat } from './bat.js';
export { isSectorMarked, markSector, isFullyMarked, isEmpty, fullBitmap } from './bitmap.js';
