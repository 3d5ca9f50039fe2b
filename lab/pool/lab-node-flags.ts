// The V8 flags the lab pool process runs with (test/support/lab-process.ts, `npm run lab`, the
// three-site bed, its systemd unit and compose service): the agents' (agent/node-flags.ts), for the
// same reason. A VHD import streams a disk through the lab as HTTP body chunks of 64 KiB, fresh
// buffers the old generation's small default limit turns into a mark-compact every few dozen MiB;
// the lab's heap (its records and event log) is larger than an agent's, so each costs more.
// Measured on the restore of a 20-deep chain of a 4 GiB disk (docs/performance-notes.md): perf put
// 45 % of the lab's CPU in V8's major collector, and the lab spent 6.3–7.2 CPU s on the import;
// with these flags 2.5–2.6 CPU s, the restore 8.3–9.5 s against 10.8–11.5.
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.js';

export const LAB_NODE_FLAGS: readonly string[] = AGENT_NODE_FLAGS;

/** The V8 flags a started `deltachain ARGS` or `deltachain-lab ARGS` runs with: the agents' for `agent`, the lab's for `pool`, none for the rest. */
export function nodeFlagsFor(args: readonly string[]): readonly string[] {
  return args[0] === 'agent' ? AGENT_NODE_FLAGS : args[0] === 'pool' ? LAB_NODE_FLAGS : [];
}
