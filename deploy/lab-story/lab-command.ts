// `npm run lab`: Postgres and NATS (used, started or installed), a database and NATS namespace
// of the lab's own, the whole system as real processes (lab pool, storage agent, host agent,
// coordinator), the seed's story told on the terminal — and then either exit (`--once`, status
// 1 when a check failed) or keep everything running for the user to explore with the CLI until
// Ctrl-C, which stops every process, drops the lab's database and deletes its streams.
import { CommanderError } from 'commander';
import { ensureServices, ServicesError, type Services } from './ensure-services.js';
import { TEST_TIMINGS, DEMO_TIMINGS } from './lab-configs.js';
import { labFleet, parseLabOptions, type LabOptions } from './lab-options.js';
import { createLabResources, type LabResources } from './lab-resources.js';
import { claimLabRoot, type LabRootClaim } from './lab-root.js';
import { startLabStack, type LabStack } from './lab-stack.js';
import { printExploreGuide, printServices, printStartup } from './lab-guide.js';
import { freePortOr } from './free-port.js';
import { formatDuration } from './format-units.js';
import { playStory } from './story.js';
import { ConsoleReporter } from './story-reporter.js';

export const STORY = { pool: 'lab', remote: 'nas', policy: 'nightly', vmNames: ['web', 'db'], retention: 3, restoreNight: 3, restoreSr: 'Restore SR', seed: 7 };

interface Running {
  claim?: LabRootClaim;
  services?: Services;
  resources?: LabResources;
  stack?: LabStack;
}

export async function runLab(argv: string[], env: Record<string, string | undefined>, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let options: LabOptions;
  try {
    options = parseLabOptions(argv, env);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const reporter = new ConsoleReporter(out);
  const running: Running = {};
  try {
    running.claim = await claimLabRoot(options.root);
    reporter.chapter('Deltachain lab', 'the whole system on this machine, every part a real process; then the story of continuous delta backups');
    reporter.chapter('Postgres and NATS');
    running.services = await ensureServices({ ...(options.postgresUrl === undefined ? {} : { postgresUrl: options.postgresUrl }), postgresPort: options.postgresPort, natsUrl: options.natsUrl, root: options.root, progress: (text) => reporter.command(text) });
    running.resources = await createLabResources(running.services.postgresUrl, running.services.natsServers);
    printServices(reporter, running.services, running.resources);
    running.stack = await startStack(options, running.services, running.resources, reporter);
    printStartup(reporter, options, running.stack);
    const outcome = await playStory(running.stack, reporter, { ...STORY, nights: options.nights });
    const failed = outcome.checks.filter((c) => !c.ok);
    reporter.chapter(failed.length === 0 ? `All ${outcome.checks.length} checks passed` : `${failed.length} of ${outcome.checks.length} checks FAILED`);
    for (const c of failed) reporter.line(`✗ ${c.text}`);
    if (options.once) return failed.length === 0 ? 0 : 1;
    await printExploreGuide(reporter, options, running.stack, outcome);
    await untilStopped(running.stack);
    return failed.length === 0 ? 0 : 1;
  } catch (error) {
    reporter.chapter('The lab stopped on an error');
    reporter.line(error instanceof ServicesError ? error.message : ((error as Error).stack ?? String(error)));
    return 1;
  } finally {
    await shutDown(running, reporter);
  }
}

async function startStack(options: LabOptions, services: Services, resources: LabResources, reporter: ConsoleReporter): Promise<LabStack> {
  reporter.chapter('Starting the system', `each part is a \`deltachain\` process; logs in ${options.root}/logs`);
  const port = options.port === 0 ? 0 : await freePortOr(options.port);
  const started = Date.now();
  const stack = await startLabStack({
    root: options.root,
    databaseUrl: resources.databaseUrl,
    nats: { servers: services.natsServers, namespace: resources.namespace },
    coordinatorListen: `127.0.0.1:${port}`,
    pools: [{ name: STORY.pool, fleet: labFleet(options.diskSize), seed: STORY.seed, faults: options.faults }],
    remotes: [STORY.remote],
    timings: options.once ? TEST_TIMINGS : DEMO_TIMINGS,
    logLevel: options.logLevel,
    onExit: (name, code, signal) => reporter.line(`! ${name} exited on its own (${code ?? signal}); see ${options.root}/logs/${name}.log`),
  });
  reporter.line(`up in ${formatDuration(Date.now() - started)}`);
  return stack;
}

/** Resolves on SIGINT or SIGTERM; keeps the catalogue's VM list fresh meanwhile. */
function untilStopped(stack: LabStack): Promise<void> {
  return new Promise((resolve) => {
    const sync = setInterval(() => void stack.syncInventory().catch(() => undefined), 5000);
    const stop = (): void => {
      clearInterval(sync);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function shutDown(running: Running, reporter: ConsoleReporter): Promise<void> {
  if (running.stack !== undefined || running.services !== undefined) reporter.chapter('Stopping', 'every process, then the lab\'s database and NATS streams');
  // A second Ctrl-C while stopping should not kill us half-way: ignore it.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  try {
    await running.stack?.stop().catch((error: unknown) => reporter.line(`stopping the processes: ${(error as Error).message}`));
    await running.resources?.release().catch((error: unknown) => reporter.line(`removing the lab's database and streams: ${(error as Error).message}`));
    await running.services?.stop();
    await running.claim?.release();
    if (running.stack !== undefined) reporter.line(`stopped; files and logs stay in ${running.stack.options.root} until the next \`npm run lab\``);
  } finally {
    process.off('SIGINT', ignore);
  }
}
