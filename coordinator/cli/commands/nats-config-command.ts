// `deltachain nats-config --out DIR`: the NATS users of an installation. Makes the nkey seed of
// the coordinator and of each agent in DIR (kept when present), and prints the nats-server
// `authorization` block that names their public keys with each role's permissions
// (shared/nats/nats-permissions.ts). Pools and remotes come from the coordinator (the control
// API), or from --pool/--remote/--agent when given — the first time, before the coordinator
// can start, since it needs its own seed.
import type { Command } from 'commander';
import { InvalidInputError } from '../../../shared/errors.js';
import type { EventSender } from '../../../shared/nats/index.js';
import type { CliIo } from '../cli-io.js';
import { commandAction, withConnection } from '../command-action.js';

const HELP = `
Set-up, in order (each process keeps its own seed; the server holds public keys only):
  1. Before the coordinator runs, name the pools and remotes you know (or none):
       deltachain nats-config --out /etc/deltachain/nats --pool pool1 --remote nas1 > /etc/nats/deltachain-auth.conf
  2. Include that file in nats-server.conf (it holds the one "authorization" block; JetStream on):
       jetstream { store_dir: /var/lib/nats }
       include deltachain-auth.conf
     then reload: nats-server --signal reload
  3. Give each process its seed in its config, readable by its user only:
       coordinator  "nats": { "seedFile": "/etc/deltachain/nats/coordinator.nk", "tls": { "ca": "…" } }
       host agent   "nats": { "seedFile": ".../host.pool1.host-pool1.nk" }     (agentId host-pool1)
       storage      "nats": { "seedFile": ".../storage.nas1.storage-nas1.nk" } (agentId storage-nas1)
  4. Start the coordinator, register what the agents serve (it makes their task queues):
       deltachain pool add pool1
       deltachain remote add nas1 --address nas1.example.net:50051
  5. Whenever a pool, remote or agent is added, run step 1 again without --pool/--remote (the
     coordinator's catalogue is read) and reload nats-server; existing seeds are kept. To rotate
     one, delete its file, run again, reload, and give the agent its new seed.
An agent's name (its config's agentId) is part of its permissions: host-<pool> and
storage-<remote> unless you name others with --agent host:POOL:NAME or storage:REMOTE:NAME.`;

interface NatsConfigOptions {
  out: string;
  namespace: string;
  pool: string[];
  remote: string[];
  agent: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

function parseAgent(text: string): EventSender {
  const match = /^(host|storage):([^:]+):([^:]+)$/.exec(text);
  if (!match) throw new InvalidInputError(`--agent ${text}: expected host:POOL:NAME or storage:REMOTE:NAME`);
  return { role: match[1] as EventSender['role'], scope: match[2]!, agent: match[3]! };
}

/** Refuses a name that cannot be a subject token, as a usage error rather than a crash. */
function checkNames(check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (error instanceof RangeError) throw new InvalidInputError(error.message);
    throw error;
  }
}

export function registerNatsConfigCommand(program: Command, io: CliIo): void {
  const command = withConnection(program.command('nats-config'))
    .description("make the NATS users' nkey seeds and print the nats-server authorization block for them")
    .requiredOption('--out <dir>', 'folder of the seed files (made 0700; existing seeds are kept)')
    .option('--namespace <ns>', 'the namespace in every config\'s nats section', 'deltachain')
    .option('--pool <name>', 'a pool (repeat); with --pool/--remote/--agent the coordinator is not asked', collect, [])
    .option('--remote <name>', 'a remote (repeat)', collect, [])
    .option('--agent <role:scope:name>', 'an agent by name, e.g. host:pool1:host-pool1-a (repeat)', collect, [])
    .addHelpText('after', HELP);
  command.action(
    commandAction<[], NatsConfigOptions>(io, async (ctx) => {
      const { options } = ctx; // ctx.client only when the coordinator is asked: it connects when used
      const { agentsOf, authorizationBlock, describeUser, ensureSeedFiles, natsNames } = await import('../../../shared/nats/index.js');
      let names!: ReturnType<typeof natsNames>;
      checkNames(() => (names = natsNames(options.namespace)));
      const named = options.agent.map(parseAgent);
      const offline = options.pool.length + options.remote.length + named.length > 0;
      const pools = offline ? options.pool : (await ctx.client.listPools()).pools.map((p) => p.name);
      const remotes = offline ? options.remote : (await ctx.client.listRemotes()).remotes.map((r) => r.name);
      const agents = agentsOf({ pools, remotes, agents: named });
      for (const agent of agents) checkNames(() => names.eventsOf(agent));
      const files = await ensureSeedFiles(options.out, agents);
      io.out(authorizationBlock(names, files.map((f) => f.user)));
      for (const f of files) io.err(`${f.created ? 'made' : 'kept'} ${f.path}  (${describeUser(f.user)})\n`);
      io.err(`paste the block above into nats-server's config (or include it) and reload nats-server; give each process its seed as nats.seedFile\n`);
    }),
  );
}
