// `deltachain coordinator --config FILE`: runs the coordinator until SIGINT or SIGTERM.
import type { Command } from 'commander';
import { loadConfigFile } from '../../../shared/config/index.js';
import { createLogger } from '../../../shared/logging/index.js';
import { Coordinator } from '../../service/coordinator.js';
import { coordinatorConfigSchema } from '../../service/coordinator-config.js';
import type { CliIo } from '../cli-io.js';

export function registerCoordinatorCommand(program: Command, io: CliIo): void {
  program
    .command('coordinator')
    .description('run the coordinator: catalogue, scheduler, dispatch over NATS, control API')
    .requiredOption('-c, --config <file>', 'coordinator config (JSON); DELTACHAIN__SECTION__FIELD variables override fields')
    .addHelpText('after', '\nMinimal config:\n  { "database": { "url": "postgres://deltachain@127.0.0.1/deltachain" },\n    "nats": { "servers": ["nats://127.0.0.1:4222"] },\n    "api": { "listen": "127.0.0.1:7100" } }')
    .action(async (options: { config: string }) => {
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
