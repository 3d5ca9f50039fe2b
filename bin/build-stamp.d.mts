// Types of build-stamp.mjs (plain JavaScript: it runs before tsx is loaded).
export declare const ROOT: string;
export declare const DIST: string;
export declare const STAMP: string;
export type FileStamp = [path: string, mtimeMs: number, size: number];
export declare function fileStamp(root: string, path: string): FileStamp | undefined;
export declare function buildIsCurrent(root?: string, dist?: string): boolean;
