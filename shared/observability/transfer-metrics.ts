// Data-path metrics: disk bytes moved between host and storage agents, how long each disk's
// transfer took (full or delta backup, restore), and how long merges took on a storage agent.
import { Counter, Histogram, type Registry } from 'prom-client';
import { DURATION_BUCKETS_SECONDS, METRIC } from './metric-names.js';

export type TransferOperation = 'backup' | 'restore';

export class TransferMetrics {
  readonly bytesMoved: Counter<'direction'>;
  readonly transferDuration: Histogram<'operation' | 'mode'>;
  readonly mergeDuration: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.bytesMoved = new Counter({ name: METRIC.bytesMoved, help: 'Disk bytes moved between host and storage agents, by direction (backup, restore).', labelNames: ['direction'], registers });
    this.transferDuration = new Histogram({
      name: METRIC.transferDuration,
      help: 'One disk\'s transfer, by operation (backup, restore) and mode (full, delta, restore), seconds.',
      labelNames: ['operation', 'mode'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.mergeDuration = new Histogram({ name: METRIC.mergeDuration, help: 'One merge task on this storage agent, seconds.', buckets: DURATION_BUCKETS_SECONDS, registers });
  }

  transfer(operation: TransferOperation, mode: string, bytes: number, seconds: number): void {
    this.bytesMoved.inc({ direction: operation }, bytes);
    this.transferDuration.observe({ operation, mode }, seconds);
  }

  merge(seconds: number): void {
    this.mergeDuration.observe(seconds);
  }
}
