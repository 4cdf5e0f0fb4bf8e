/**
 * Prometheus metrics at /metrics. One registry per server (not prom-client's global one), so several
 * servers in one process — as in tests — never share counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Semaphore } from './runners/claude/admission.ts';
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

  readonly waited = new Histogram({
    name: 'switchyard_task_wait_seconds',
    help: 'Where a task waited before its agent ran: queued for a Claude Code slot, for a start, starting.',
    labelNames: ['phase'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  constructor(gauges: {
    queued: () => number | Promise<number>;
    running: () => number;
    admission?: { slots: Semaphore; starts: Semaphore };
  }) {
    const admission = gauges.admission;
    if (admission) {
      new Gauge({
        name: 'switchyard_claude_slots',
        help: 'Claude Code slots (tasks and workflow steps): capacity, in use, and callers waiting.',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          this.set({ state: 'capacity' }, admission.slots.capacity);
          this.set({ state: 'in_use' }, admission.slots.inUse);
          this.set({ state: 'waiting' }, admission.slots.waiting);
        },
      });
      new Gauge({
        name: 'switchyard_claude_starts',
        help: 'Claude Code processes starting now, and waiting at the start gate.',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          this.set({ state: 'starting' }, admission.starts.inUse);
          this.set({ state: 'waiting' }, admission.starts.waiting);
        },
      });
    }
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
    if (task.started_at) {
      this.waited.observe({ phase: 'queued' }, (Date.parse(task.started_at) - Date.parse(task.created_at)) / 1000);
    }
    const admission = (task.result as { admission?: { start_wait_ms?: number; startup_ms?: number } } | null)
      ?.admission;
    if (admission?.start_wait_ms !== undefined)
      this.waited.observe({ phase: 'start_gate' }, admission.start_wait_ms / 1000);
    if (admission?.startup_ms !== undefined) this.waited.observe({ phase: 'starting' }, admission.startup_ms / 1000);
    if (task.started_at && task.finished_at) {
      this.taskDuration.observe((Date.parse(task.finished_at) - Date.parse(task.started_at)) / 1000);
    }
  }
}
