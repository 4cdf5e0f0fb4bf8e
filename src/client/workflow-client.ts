/**
 * The typed client for workflows, runs and the dead-letter queue. It is a SwitchyardClient too, so
 * one object serves tasks and workflows alike.
 *
 * @example
 * ```ts
 * const client = new WorkflowClient({ baseUrl: 'http://127.0.0.1:7847' });
 * await client.registerWorkflow(await readFile('brief.yaml', 'utf8'), { filename: 'brief.yaml' });
 * const run = await client.startRun('market-brief', { topic: 'rates' });
 * for await (const e of client.runEvents(run.run_id)) console.log(e.type, e.data);
 * const done = await client.waitRun(run.run_id);
 * console.log(done.status, done.steps.map((s) => `${s.name} ${s.status}`));
 * ```
 */
import type {
  DlqEntry,
  Hook,
  Page,
  Pool,
  Run,
  RunStatus,
  Schedule,
  StreamEvent,
  WorkflowSummary,
} from '../api/contract/index.ts';
import { isTerminal, type StreamOptions, SwitchyardClient } from './client.ts';

/** Every shape here is the API contract's (src/api/contract/), not a copy. */
export type {
  DlqEntry,
  Hook,
  Page,
  Pool,
  Run,
  RunStatus,
  Schedule as ScheduleView,
  StepView,
  WorkflowSummary,
} from '../api/contract/index.ts';
export type RunStreamEvent = StreamEvent;

const enc = encodeURIComponent;

function queryString(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class WorkflowClient extends SwitchyardClient {
  /** Registers (or updates) a definition from its YAML or JSON text; `filename` appears in errors. */
  registerWorkflow(text: string, options: { filename?: string } = {}): Promise<WorkflowSummary> {
    const q = queryString({ filename: options.filename });
    return this.request('POST', `/v1/workflows${q}`, text, { 'content-type': 'application/yaml' });
  }

  async listWorkflows(): Promise<WorkflowSummary[]> {
    return (await this.request<{ items: WorkflowSummary[] }>('GET', '/v1/workflows')).items;
  }

  getWorkflow(name: string): Promise<WorkflowSummary> {
    return this.request('GET', `/v1/workflows/${enc(name)}`);
  }

  workflowSchema(): Promise<Record<string, unknown>> {
    return this.request('GET', '/v1/workflows/schema.json');
  }

  startRun(
    workflow: string,
    inputs: Record<string, unknown> = {},
    options: { idempotencyKey?: string } = {},
  ): Promise<Run> {
    const headers: Record<string, string> = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    return this.request('POST', `/v1/workflows/${enc(workflow)}/runs`, { inputs }, headers);
  }

  getRun(id: string, waitSeconds = 0): Promise<Run> {
    return this.request(
      'GET',
      `/v1/runs/${enc(id)}${queryString({ wait: waitSeconds > 0 ? waitSeconds : undefined })}`,
    );
  }

  listRuns(query: { workflow?: string; status?: RunStatus; limit?: number; cursor?: string } = {}): Promise<Page<Run>> {
    return this.request('GET', `/v1/runs${queryString(query)}`);
  }

  /** Long-polls until the run is terminal (or `timeoutMs` passes, then returns it as it is). */
  async waitRun(id: string, timeoutMs = Number.POSITIVE_INFINITY): Promise<Run> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      const run = await this.getRun(id, Math.max(1, Math.min(60, left)));
      if (isTerminal(run.status) || Date.now() >= deadline) return run;
    }
  }

  cancelRun(id: string): Promise<Run> {
    return this.request('POST', `/v1/runs/${enc(id)}/cancel`);
  }

  rerun(id: string, step?: string): Promise<Run> {
    return this.request('POST', `/v1/runs/${enc(id)}/rerun`, step === undefined ? {} : { step });
  }

  approve(id: string, step: string, comment?: string): Promise<Run> {
    return this.request(
      'POST',
      `/v1/runs/${enc(id)}/steps/${enc(step)}/approve`,
      comment === undefined ? {} : { comment },
    );
  }

  reject(id: string, step: string, comment?: string): Promise<Run> {
    return this.request(
      'POST',
      `/v1/runs/${enc(id)}/steps/${enc(step)}/reject`,
      comment === undefined ? {} : { comment },
    );
  }

  listDlq(query: { status?: DlqEntry['status']; limit?: number; cursor?: string } = {}): Promise<Page<DlqEntry>> {
    return this.request('GET', `/v1/dlq${queryString(query)}`);
  }

  getDlq(id: string): Promise<DlqEntry> {
    return this.request('GET', `/v1/dlq/${enc(id)}`);
  }

  retryDlq(id: string): Promise<Run> {
    return this.request('POST', `/v1/dlq/${enc(id)}/retry`);
  }

  discardDlq(id: string): Promise<DlqEntry> {
    return this.request('POST', `/v1/dlq/${enc(id)}/discard`);
  }

  /** The hooks the registered workflows declare (never their secrets). */
  async listHooks(): Promise<Hook[]> {
    return (await this.request<{ items: Hook[] }>('GET', '/v1/hooks')).items;
  }

  /** Every cron trigger of the registered workflows, with its next fire time and last fire. */
  async listSchedules(): Promise<Schedule[]> {
    return (await this.request<{ items: Schedule[] }>('GET', '/v1/schedules')).items;
  }

  /** `trigger` is the trigger's name, or its cron expression when it has none. */
  pauseSchedule(workflow: string, trigger: string): Promise<Schedule> {
    return this.request('POST', `/v1/schedules/${enc(workflow)}/${enc(trigger)}/pause`);
  }

  resumeSchedule(workflow: string, trigger: string): Promise<Schedule> {
    return this.request('POST', `/v1/schedules/${enc(workflow)}/${enc(trigger)}/resume`);
  }

  /** Every resource pool: its capacity, the steps holding its slots and those waiting, in order. */
  async listPools(): Promise<Pool[]> {
    return (await this.request<{ items: Pool[] }>('GET', '/v1/pools')).items;
  }

  /** Streams a run's events (SSE: run, step, agent …) until the run ends; resumes after `afterId`. */
  runEvents(id: string, options: StreamOptions = {}): AsyncGenerator<RunStreamEvent> {
    return this.stream(`/v1/runs/${enc(id)}/events`, options);
  }
}
