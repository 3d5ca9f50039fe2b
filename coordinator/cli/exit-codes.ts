// Exit codes of the coordinator's CLI commands, so scripts can tell outcomes apart.
export const EXIT = {
  /** Done; for `run watch`, the run succeeded. */
  OK: 0,
  /** The request was refused or the operation failed (the message says why). */
  FAILED: 1,
  /** Bad command line: unknown option, missing or malformed value. */
  USAGE: 2,
  /** `run watch` / `restore --wait`: the run finished partly (some tasks failed). */
  PARTIAL: 3,
  /** The thing named does not exist. */
  NOT_FOUND: 4,
  /** The caller may not do this: no or the wrong certificate, a viewer changing things, no access to the socket (EX_NOPERM). */
  NOT_ALLOWED: 77,
  /** The coordinator cannot be reached (EX_UNAVAILABLE). */
  UNAVAILABLE: 69,
} as const;
