// CHS geometry from a size, by the algorithm in the VHD specification (appendix "CHS
// Calculation"). Only informative: our readers and writers use `current_size` as the exact size.
import { SECTOR_SIZE } from './constants.js';

export interface Geometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

export function computeGeometry(size: number): Geometry {
  let totalSectors = Math.floor(size / SECTOR_SIZE);
  if (totalSectors > 65535 * 16 * 255) totalSectors = 65535 * 16 * 255;
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    heads = Math.max(Math.floor((cylinderTimesHeads + 1023) / 1024), 4);
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack };
}
