// An emulated WAN link (wan-link.ts) in a process of its own, so that its CPU is not the
// measured processes': argv target-port megabits rtt-ms. Prints "listening <port>"; on SIGUSR2
// prints "carried <up> <down>"; SIGTERM closes it.
import { startWanLink, linkShape } from './wan-link.js';

const [port, megabits, rtt] = process.argv.slice(2).map(Number);
if (!port || !megabits || rtt === undefined || Number.isNaN(rtt)) {
  process.stderr.write('usage: wan-link-process <target-port> <megabits> <rtt-ms>\n');
  process.exit(2);
}
const link = await startWanLink({ host: '127.0.0.1', port }, linkShape(megabits, rtt));
process.stdout.write(`listening ${link.port}\n`);
process.on('SIGUSR2', () => {
  const { up, down } = link.carried();
  process.stdout.write(`carried ${up} ${down}\n`);
});
process.on('SIGTERM', () => void link.close().then(() => process.exit(0)));
