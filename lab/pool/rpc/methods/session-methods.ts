// session.* and system.*: login (checked against the lab's credentials), logout, the session's
// host, and system.listMethods — which the xen-api client calls on connect to learn the classes
// (every `X.get_all_records` it lists).
import type { MethodRegistry } from '../method-registry.js';

export function registerSessionMethods(registry: MethodRegistry): void {
  registry.define('session.login_with_password', {
    params: [2, 4],
    session: false,
    readOnly: true,
    run: ({ sessions }, [user, password]) => sessions.login(user, password),
  });
  registry.define('session.logout', {
    params: 0,
    readOnly: true,
    run: ({ sessions, session }) => sessions.logout(session),
  });
  registry.define('session.get_this_host', {
    params: 1,
    readOnly: true,
    run: ({ state }) => state.hostRef,
  });
  // Clients may send a session first; system.* ignores it.
  registry.define('system.listMethods', {
    params: [0, 1],
    session: false,
    readOnly: true,
    run: () => registry.names(),
  });
}
