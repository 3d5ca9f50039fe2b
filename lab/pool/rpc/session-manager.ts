// Sessions: `session.login_with_password` checks the lab's credentials and returns a session
// ref; every other call names its session first. Sessions live in memory only: after a restart
// clients get SESSION_INVALID and log in again, as after a toolstack restart on a real host.
import { timingSafeEqual } from 'node:crypto';
import { newRef } from '../records/record-store.js';
import { XapiFailure, sessionInvalid } from './xapi-failure.js';

export interface Credentials {
  user: string;
  password: string;
}

export class SessionManager {
  private readonly sessions = new Map<string, { user: string; created: Date }>();

  constructor(private readonly credentials: Credentials) {}

  login(user: unknown, password: unknown): string {
    if (typeof user !== 'string' || typeof password !== 'string' || !this.matches(user, password)) {
      throw new XapiFailure('SESSION_AUTHENTICATION_FAILED', [String(user), 'Authentication failure']);
    }
    const ref = newRef();
    this.sessions.set(ref, { user, created: new Date() });
    return ref;
  }

  logout(ref: string): void {
    this.sessions.delete(ref);
  }

  /** Throws SESSION_INVALID unless `ref` is a live session. */
  check(ref: unknown): string {
    if (typeof ref !== 'string' || !this.sessions.has(ref)) throw sessionInvalid(String(ref));
    return ref;
  }

  isValid(ref: unknown): boolean {
    return typeof ref === 'string' && this.sessions.has(ref);
  }

  /** Checks HTTP Basic credentials (the admin endpoints). */
  matches(user: string, password: string): boolean {
    return same(user, this.credentials.user) && same(password, this.credentials.password);
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
