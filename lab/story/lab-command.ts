// `npm run lab`: Postgres and NATS (used, started or installed), a database and NATS namespace
// of the lab's own, the whole system as real processes (lab pool, storage agent, host agent,
// coordinator), the seed's story told on the terminal — and then either exit (`--once`, status
// 1 when a check failed) or keep everything running for the user to explore with the CLI until
// Ctrl-C. A stop signal at any moment stops every process (the lab's own nats-server among
// them) and drops the lab's database (status 130 when the story was cut short). With `--once`
// (the README's first command on a fresh machine) it also installs, as root, what `npm test`
// needs besides npm packages (test/support/prerequisites.mjs), or says what to install.
import { CommanderError } from 'commander';
import { ensurePrerequisites, PrerequisitesError } from '../../test/support/prerequisites.mjs';
import { ensureServices, ServicesError, type Services } from './ensure-services.js';
import { formatDuration } from './format-units.js';
import { TEST_TIMINGS, DEMO_TIMINGS } from './lab-configs.js';
import { printExploreGuide, printServices, printStartup } from './lab-guide.js';
import { labFleet, parseLabOptions, type LabOptions } from './lab-options.js';
import { createLabResources, type LabResources } from './lab-resources.js';
import { claimLabRoot, type LabRootClaim } from './lab-root.js';
import { startLabStack, type LabStack } from './lab-stack.js';
import { freePortOr } from './free-port.js';
import { watchStopSignals, unlessStopped, type StopSignal } from './stop-signal.js';
import { playStory } from './story.js';
import { ConsoleReporter } from './story-reporter.js';

export const STORY = { pool: 'lab', remote: 'nas', policy: 'nightly', vmNames: ['web', 'db'], retention: 3, restoreNight: 3, restoreSr: 'Restore SR', seed: 7 };

/** Status when a signal stopped the lab before the story was over. */
const INTERRUPTED = 130;

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
  const stop = watchStopSignals();
  const running: Running = {};
  try {
    return await play(options, reporter, stop, running);
  } catch (error) {
    reporter.chapter('The lab stopped on an error');
    reporter.line(error instanceof ServicesError ? error.message : ((error as Error).stack ?? String(error)));
    return 1;
  } finally {
    await shutDown(running, reporter);
    stop.dispose();
  }
}

/** What `npm test` needs besides npm packages: installed as root; otherwise a note of what to run (the lab itself does not need them). */
async function prepareForTests(reporter: ConsoleReporter): Promise<void> {
  reporter.chapter('What the tests need', 'qemu-img, libvhdi, restic, borg, openssl, nats-server, systemd-analyze, Postgres');
  try {
    await ensurePrerequisites({ services: false, log: (line) => reporter.command(line) });
  } catch (error) {
    if (!(error instanceof PrerequisitesError)) throw error;
    reporter.line(error.message);
  }
}

async function play(options: LabOptions, reporter: ConsoleReporter, stop: StopSignal, running: Running): Promise<number> {
  running.claim = await claimLabRoot(options.root);
  reporter.chapter('Deltachain lab', 'the whole system on this machine, every part a real process; then the story of continuous delta backups');
  if (running.claim.leftoversStopped > 0) reporter.line(`stopped ${running.claim.leftoversStopped} processes a previous lab in ${options.root} had left running`);
  if (options.once) await prepareForTests(reporter);
  reporter.chapter('Postgres and NATS');
  running.services = await ensureServices({ ...(options.postgresUrl === undefined ? {} : { postgresUrl: options.postgresUrl }), postgresPort: options.postgresPort, natsUrl: options.natsUrl, root: options.root, progress: (text) => reporter.command(text) });
  await running.claim.recordProcesses(running.services.pids());
  running.resources = await createLabResources(running.services.postgresUrl);
  printServices(reporter, running.services, running.resources);
  running.stack = await startStack(options, running.resources, reporter, stop);
  await running.claim.recordProcesses([...running.services.pids(), ...running.stack.supervisor.running.map((p) => p.child.pid ?? 0)]);
  printStartup(reporter, options, running.stack);
  if (stop.received !== undefined) return INTERRUPTED;
  const outcome = await unlessStopped(playStory(running.stack, reporter, { ...STORY, nights: options.nights }), stop);
  if (outcome === 'stopped') {
    reporter.chapter(`Stopped by ${stop.received} before the story was over`);
    return INTERRUPTED;
  }
  const failed = outcome.checks.filter((c) => !c.ok);
  reporter.chapter(failed.length === 0 ? `All ${outcome.checks.length} checks passed` : `${failed.length} of ${outcome.checks.length} checks FAILED`);
  for (const c of failed) reporter.line(`✗ ${c.text}`);
  if (!options.once) {
    await printExploreGuide(reporter, options, running.stack, outcome);
    await stop.promise;
  }
  return failed.length === 0 ? 0 : 1;
}

async function startStack(options: LabOptions, resources: LabResources, reporter: ConsoleReporter, stop: StopSignal): Promise<LabStack> {
  reporter.chapter('Starting the system', `each part is a \`deltachain\` process; logs in ${options.root}/logs`);
  const port = options.port === 0 ? 0 : await freePortOr(options.port);
  const started = Date.now();
  const stack = await startLabStack({
    root: options.root,
    databaseUrl: resources.databaseUrl,
    nats: { namespace: resources.namespace },
    coordinatorListen: `127.0.0.1:${port}`,
    pools: [{ name: STORY.pool, fleet: labFleet(options.diskSize), seed: STORY.seed, faults: options.faults }],
    remotes: [STORY.remote],
    timings: options.once ? TEST_TIMINGS : DEMO_TIMINGS,
    logLevel: options.logLevel,
    // After Ctrl-C in a terminal every process got the SIGINT too: their exits are expected.
    onExit: (name, code, signal) => stop.received === undefined && reporter.line(`! ${name} exited on its own (${code ?? signal}); see ${options.root}/logs/${name}.log`),
  });
  reporter.line(`up in ${formatDuration(Date.now() - started)}`);
  return stack;
}

async function shutDown(running: Running, reporter: ConsoleReporter): Promise<void> {
  if (running.stack !== undefined || running.services !== undefined) reporter.chapter('Stopping', 'every process, then the lab\'s database');
  await running.stack?.stop().catch((error: unknown) => reporter.line(`stopping the processes: ${(error as Error).message}`));
  await running.resources?.release().catch((error: unknown) => reporter.line(`removing the lab's database: ${(error as Error).message}`));
  await running.services?.stop();
  await running.claim?.release();
  if (running.stack !== undefined) reporter.line(`stopped; files and logs stay in ${running.stack.options.root} until the next \`npm run lab\``);
}
