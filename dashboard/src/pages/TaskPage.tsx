import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { api, post, seg } from '../api.ts';
import type { Task, TaskEvent } from '../api-types.ts';
import { ErrorLine, Problem } from '../components/ErrorLine.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { Transcript } from '../components/Transcript.tsx';
import { cost, duration, elapsed, json, time, tokens } from '../format.ts';
import { useNow, usePoll } from '../hooks.ts';
import { buildTranscript, TASK_EVENT_TYPES } from '../transcript.ts';

const TERMINAL = new Set(['completed', 'failed']);

/**
 * Follows GET /v1/tasks/{id}/events. The stream ends when the task does; `generation` reopens it after
 * a follow-up, from the last event seen, so nothing is shown twice.
 */
function useTaskEvents(id: string, generation: number, onStatus: () => void): TaskEvent[] {
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const lastSeq = useRef(0);
  const onStatusRef = useRef(onStatus);
  onStatusRef.current = onStatus;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new id starts a new log
  useEffect(() => {
    lastSeq.current = 0;
    setEvents([]);
  }, [id]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: generation reopens the stream on purpose
  useEffect(() => {
    const source = new EventSource(`/v1/tasks/${seg(id)}/events?after=${lastSeq.current}`);
    const receive = (type: string) => (msg: MessageEvent<string>) => {
      const seq = Number(msg.lastEventId);
      if (!Number.isFinite(seq) || seq <= lastSeq.current) return;
      lastSeq.current = seq;
      let data: unknown;
      try {
        data = JSON.parse(msg.data);
      } catch {
        data = msg.data;
      }
      setEvents((prev) => [...prev, { seq, type, data }]);
      if (type === 'status') {
        onStatusRef.current();
        if (TERMINAL.has(String((data as { status?: string })?.status))) source.close();
      }
    };
    for (const type of TASK_EVENT_TYPES) source.addEventListener(type, receive(type));
    return () => source.close();
  }, [id, generation]);
  return events;
}

function Facts({ task, now }: { task: Task; now: number }) {
  const r = task.result;
  const usage = r?.usage;
  const policy = r?.policy;
  return (
    <dl className="facts">
      <dt>Status</dt>
      <dd>
        <StatusBadge status={task.status} />
      </dd>
      <dt>Created</dt>
      <dd>{time(task.created_at)}</dd>
      <dt>Duration</dt>
      <dd>{elapsed(task.started_at, task.finished_at, now)}</dd>
      <dt>Waited</dt>
      <dd>
        {r?.admission
          ? `queue ${elapsed(task.created_at, task.started_at, now)}, start gate ${duration(r.admission.start_wait_ms)}, startup ${duration(r.admission.startup_ms)}, ${r.admission.warm ? 'warm' : 'cold'}`
          : `queue ${elapsed(task.created_at, task.started_at, now)}`}
      </dd>
      <dt>Tokens</dt>
      <dd>{usage ? `${tokens(usage.input_tokens)} in / ${tokens(usage.output_tokens)} out` : '—'}</dd>
      <dt>Cost</dt>
      <dd>{cost(usage?.cost_usd ?? r?.total_cost_usd)}</dd>
      <dt>Tools</dt>
      <dd>
        <code>{(policy?.tools ?? task.request.allowed_tools ?? []).join(', ') || 'none (no tools)'}</code>
      </dd>
      <dt>Sandbox</dt>
      <dd>{policy?.sandbox ? `${policy.sandbox.mode}, ${policy.sandbox.active ? 'active' : 'not active'}` : '—'}</dd>
      <dt>Attempts</dt>
      <dd>{task.attempts}</dd>
    </dl>
  );
}

export function TaskPage({ id }: { id: string }) {
  const now = useNow();
  const { value: task, error, reload } = usePoll(() => api<Task>(`/v1/tasks/${seg(id)}`), 5000, id);
  const [generation, setGeneration] = useState(0);
  const events = useTaskEvents(id, generation, () => void reload());
  const entries = useMemo(() => buildTranscript(events), [events]);
  const [message, setMessage] = useState('');
  const [actionError, setActionError] = useState<string | undefined>();

  const act = async (action: () => Promise<unknown>) => {
    setActionError(undefined);
    try {
      await action();
      await reload();
    } catch (err) {
      setActionError((err as Error).message);
    }
  };
  const followUp = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      await post(`/v1/tasks/${seg(id)}/messages`, { prompt: message });
      setMessage('');
      setGeneration((g) => g + 1);
    });
  };

  if (!task) return error ? <Problem message={error} /> : <p className="loading">Loading…</p>;
  const live = !TERMINAL.has(task.status);
  return (
    <section>
      <div className="page-head">
        <h1>
          Task <code>{task.id}</code>
        </h1>
        {live ? (
          <button type="button" className="danger" onClick={() => void act(() => post(`/v1/tasks/${seg(id)}/cancel`))}>
            Cancel
          </button>
        ) : null}
      </div>
      <Problem message={error ?? actionError} />
      <Facts task={task} now={now} />
      <ErrorLine error={task.error} />
      <h2>Prompt</h2>
      <pre className="text prompt-text">{task.request.prompt ?? ''}</pre>
      <h2>Transcript</h2>
      <Transcript entries={entries} />
      {task.response ? (
        <>
          <h2>Response</h2>
          <pre className="text response">{task.response}</pre>
        </>
      ) : null}
      {task.result?.permission_denials?.length ? (
        <>
          <h2>Permission denials</h2>
          <pre className="text ev-denied">{json(task.result.permission_denials)}</pre>
        </>
      ) : null}
      <form className="follow-up" onSubmit={followUp}>
        <label htmlFor="follow-up">Follow-up message</label>
        <textarea
          id="follow-up"
          rows={3}
          value={message}
          onChange={(e) => setMessage(e.target.value)}
          placeholder={live ? 'Send when the task has finished' : 'Continue the same Claude Code session'}
        />
        <button type="submit" disabled={message.trim() === '' || live}>
          Send
        </button>
      </form>
    </section>
  );
}
