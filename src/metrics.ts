/**
 * Prometheus metrics at /metrics. One registry per server (not prom-client's global one), so several
 * servers in one process — as in tests — never share counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TaskRecord } from './store/store.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly tasksFinished = new Counter({
    name: 'switchyard_tasks_finished_total',
    help: 'Tasks that reached a terminal state, by status and error kind.',
    labelNames: ['status', 'kind'] as const,
    registers: [this.registry],
  });
  readonly taskDuration = new Histogram({
    name: 'switchyard_task_duration_seconds',
    help: 'Wall time from a task starting to run until it ended.',
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });

  constructor(gauges: { queued: () => number | Promise<number>; running: () => number }) {
    new Gauge({
      name: 'switchyard_tasks_queued',
      help: 'Tasks waiting for a slot.',
      registers: [this.registry],
      async collect() {
        this.set(await gauges.queued());
      },
    });
    new Gauge({
      name: 'switchyard_tasks_running',
      help: 'Tasks running now.',
      registers: [this.registry],
      collect() {
        this.set(gauges.running());
      },
    });
  }

  taskEnded(task: TaskRecord): void {
    this.tasksFinished.inc({ status: task.status, kind: task.error?.kind ?? '' });
    if (task.started_at && task.finished_at) {
      this.taskDuration.observe((Date.parse(task.finished_at) - Date.parse(task.started_at)) / 1000);
    }
  }
}
