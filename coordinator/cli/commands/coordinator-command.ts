// `deltachain coordinator --config FILE`: runs the coordinator until SIGINT or SIGTERM. The
// coordinator's modules are loaded only when the command runs (they are most of the CLI's
// start-up otherwise).
import type { Command } from 'commander';
import type { CliIo } from '../cli-io.js';

export function registerCoordinatorCommand(program: Command, io: CliIo): void {
  program
    .command('coordinator')
    .description('run the coordinator: catalogue, scheduler, dispatch over NATS, control API')
    .requiredOption('-c, --config <file>', 'coordinator config (JSON); DELTACHAIN__SECTION__FIELD variables override fields')
    .addHelpText('after', '\nMinimal config:\n  { "database": { "url": "postgres://deltachain@127.0.0.1/deltachain" },\n    "nats": { "servers": ["nats://127.0.0.1:4222"] },\n    "api": { "socket": "/run/deltachain/coordinator.sock" } }')
    .action(async (options: { config: string }) => {
      const [{ loadConfigFile }, { createLogger }, { Coordinator }, { coordinatorConfigSchema }] = await Promise.all([
        import('../../../shared/config/index.js'),
        import('../../../shared/logging/index.js'),
        import('../../service/coordinator.js'),
        import('../../service/coordinator-config.js'),
      ]);
      const config = await loadConfigFile(coordinatorConfigSchema, options.config, io.env);
      const logger = createLogger(config.log);
      const coordinator = new Coordinator(config, { logger });
      await coordinator.start();
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await coordinator.stop();
    });
}
