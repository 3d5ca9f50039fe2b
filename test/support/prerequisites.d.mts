// Types of prerequisites.mjs (plain JavaScript: it runs before tsx is loaded).
export interface Prerequisite {
  /** What the tests need, as a message names it. */
  what: string;
  /** The Debian package that brings it. */
  debian: string;
  present(): Promise<boolean>;
}
export declare const PREREQUISITES: Prerequisite[];
export declare function findOnPath(name: string): string | undefined;
export declare function missingPrerequisites(): Promise<Prerequisite[]>;
export declare function aptLine(packages: string[]): string;
export declare function portOpen(host: string, port: number, timeoutMs?: number): Promise<boolean>;
export declare function installPackages(missing: Prerequisite[], log: (line: string) => void): Promise<void>;
export declare class PrerequisitesError extends Error {
  code: 'TEST_PREREQUISITES';
}
export declare function ensurePrerequisites(options?: { log?: (line: string) => void; services?: boolean }): Promise<void>;
/** The message a test gives when what it needs is missing: what, and the line that installs it. */
export declare function missingMessage(what: string): string;
