// event.from (the long poll the xen-api client loops on), event.inject and event.get_current_id.
// event.from returns at once when events newer than the token match the classes, otherwise
// waits for one up to `timeout` seconds; an empty token returns every current object as `add`.
// `valid_ref_counts` holds the number of objects of each class asked for (the client compares
// the task count to detect lost tasks).
import { EventFilter, type XapiEvent } from '../../events/event-log.js';
import { LAB_CLASSES, type LabState } from '../../state/lab-state.js';
import { XapiFailure, fieldTypeError } from '../xapi-failure.js';
import type { MethodRegistry } from '../method-registry.js';

export function registerEventMethods(registry: MethodRegistry): void {
  registry.define('event.from', {
    params: 3,
    readOnly: true,
    run: async ({ state, signal }, [classes, token, timeout]) => {
      if (!Array.isArray(classes) || classes.some((c) => typeof c !== 'string')) throw fieldTypeError('classes');
      if (typeof token !== 'string') throw fieldTypeError('token');
      const seconds = Number(timeout);
      if (!Number.isFinite(seconds) || seconds < 0) throw fieldTypeError('timeout');
      return eventFrom(state, new EventFilter(classes as string[]), token, seconds * 1000, signal);
    },
  });
  registry.define('event.inject', {
    params: 2,
    run: ({ state }, [cls, ref]) => {
      const name = LAB_CLASSES.find((c) => c.toLowerCase() === String(cls).toLowerCase());
      if (name === undefined) throw new XapiFailure('HANDLE_INVALID', [String(cls), String(ref)]);
      state.records.update(name, String(ref), () => {});
      return state.events.token();
    },
  });
  registry.define('event.get_current_id', { params: 0, readOnly: true, run: ({ state }) => state.events.token() });
}

async function eventFrom(state: LabState, filter: EventFilter, token: string, timeoutMs: number, signal: AbortSignal) {
  let events: XapiEvent[];
  let next: string;
  if (token === '') {
    events = currentObjects(state, filter);
    next = state.events.token();
  } else {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      events = state.events.since(token, filter);
      next = state.events.token();
      if (events.length > 0 || Date.now() >= deadline || signal.aborted) break;
      await state.events.wait(deadline - Date.now(), signal);
    }
  }
  return { events, valid_ref_counts: refCounts(state, filter), token: next };
}

function currentObjects(state: LabState, filter: EventFilter): XapiEvent[] {
  const events: XapiEvent[] = [];
  const timestamp = (Date.now() / 1000).toFixed(3);
  for (const cls of LAB_CLASSES) {
    for (const [ref, snapshot] of state.records.entries(cls)) {
      if (filter.matches(cls, ref)) events.push({ id: '0', timestamp, class: cls.toLowerCase(), operation: 'add', ref, snapshot });
    }
  }
  return events;
}

function refCounts(state: LabState, filter: EventFilter): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const cls of LAB_CLASSES) if (filter.wantsClass(cls)) counts[cls.toLowerCase()] = state.records.count(cls);
  return counts;
}
