import { type FormEvent, useState } from 'react';
import { ApiError, post } from '../api.ts';
import type { Task } from '../api-types.ts';
import { href } from '../router.ts';
import { Problem } from './ErrorLine.tsx';

/**
 * How each POST /v1/tasks field is typed in: `list` is comma-separated, `number` and `json` are sent as
 * parsed (or as typed when they do not parse, so the server's message says what it must be).
 */
type Kind = 'text' | 'textarea' | 'list' | 'number' | 'json' | 'bool';
interface FieldSpec {
  name: string;
  label: string;
  kind: Kind;
  placeholder?: string;
  /** Shown under "More options". */
  more?: boolean;
}

const FIELDS: FieldSpec[] = [
  {
    name: 'allowed_tools',
    label: 'Allowed tools (comma-separated)',
    kind: 'list',
    placeholder: 'Read, Bash(git status)',
  },
  { name: 'cwd', label: 'Working directory', kind: 'text', placeholder: 'server default' },
  { name: 'timeout', label: 'Timeout (ms)', kind: 'number', placeholder: 'server default' },
  { name: 'model', label: 'Model (optional)', kind: 'text', placeholder: 'server default' },
  { name: 'max_turns', label: 'Max turns', kind: 'number', more: true },
  { name: 'max_budget_usd', label: 'Max budget (USD)', kind: 'number', more: true },
  { name: 'idle_timeout', label: 'Idle timeout (ms)', kind: 'number', more: true },
  { name: 'webhook_url', label: 'Webhook URL (told when it ends)', kind: 'text', more: true },
  { name: 'system_prompt_append', label: 'Appended to the system prompt', kind: 'textarea', more: true },
  { name: 'output_schema', label: 'Output schema (JSON Schema)', kind: 'json', more: true },
  { name: 'metadata', label: 'Metadata (JSON object)', kind: 'json', more: true },
  { name: 'retry_safe', label: 'Safe to retry after a crash', kind: 'bool', more: true },
];

/** The server names a field like `allowed_tools` or `allowed_tools.2`: the form field is its first part. */
function formField(field: string | undefined): string | undefined {
  const head = field?.split(/[.[]/)[0];
  return head === 'prompt' || FIELDS.some((f) => f.name === head) ? head : undefined;
}

type Values = Record<string, string>;

/** The request as POST /v1/tasks takes it: empty optional fields are left out, so server defaults apply. */
function request(values: Values): { body: Record<string, unknown> } | { field: string; message: string } {
  const body: Record<string, unknown> = { prompt: values.prompt ?? '' };
  for (const f of FIELDS) {
    const raw = (values[f.name] ?? '').trim();
    if (!raw) continue;
    if (f.kind === 'list') {
      const items = raw
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      if (items.length) body[f.name] = items;
    } else if (f.kind === 'number') {
      body[f.name] = Number.isNaN(Number(raw)) ? raw : Number(raw);
    } else if (f.kind === 'json') {
      try {
        body[f.name] = JSON.parse(raw);
      } catch (err) {
        return { field: f.name, message: `${f.name} is not valid JSON: ${(err as Error).message}` };
      }
    } else if (f.kind === 'bool') {
      body[f.name] = raw === 'true';
    } else {
      body[f.name] = raw;
    }
  }
  return { body };
}

function FieldError({ message }: { message: string | undefined }) {
  return message ? (
    <span className="field-error" role="alert">
      {message}
    </span>
  ) : null;
}

/** Submits a task (POST /v1/tasks) and opens its page; a validation error is shown beside its field. */
export function NewTaskForm({ onClose }: { onClose: () => void }) {
  const [values, setValues] = useState<Values>({});
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const set = (name: string, value: string) => setValues({ ...values, [name]: value });
  const errorFor = (name: string) => (fieldError?.field === name ? fieldError.message : undefined);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setFieldError(undefined);
    const built = request(values);
    if ('field' in built) {
      setFieldError(built);
      return;
    }
    setBusy(true);
    try {
      const task = await post<Task>('/v1/tasks', built.body);
      window.location.hash = href({ page: 'task', id: task.id });
    } catch (err) {
      const field = err instanceof ApiError ? formField(err.field) : undefined;
      if (field) setFieldError({ field, message: (err as Error).message });
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const control = (f: FieldSpec, id: string) => {
    const value = values[f.name] ?? '';
    if (f.kind === 'bool') {
      return (
        <select id={id} name={f.name} value={value} onChange={(e) => set(f.name, e.target.value)}>
          <option value="">server default</option>
          <option value="true">yes</option>
          <option value="false">no</option>
        </select>
      );
    }
    if (f.kind === 'textarea' || f.kind === 'json') {
      return <textarea id={id} name={f.name} rows={3} value={value} onChange={(e) => set(f.name, e.target.value)} />;
    }
    return (
      <input
        id={id}
        name={f.name}
        value={value}
        placeholder={f.placeholder}
        onChange={(e) => set(f.name, e.target.value)}
      />
    );
  };
  const field = (f: FieldSpec) => (
    <label key={f.name} htmlFor={`task-${f.name}`} className={errorFor(f.name) ? 'has-error' : undefined}>
      {f.label}
      {control(f, `task-${f.name}`)}
      <FieldError message={errorFor(f.name)} />
    </label>
  );
  // A server error on a field under "More options" opens it, so the message is never hidden.
  const moreHasError = FIELDS.some((f) => f.more && f.name === fieldError?.field);

  return (
    <form className="card new-task" onSubmit={(e) => void submit(e)}>
      <h2>New task</h2>
      <label className={errorFor('prompt') ? 'has-error' : undefined}>
        Prompt
        <textarea name="prompt" rows={4} value={values.prompt ?? ''} onChange={(e) => set('prompt', e.target.value)} />
        <FieldError message={errorFor('prompt')} />
      </label>
      <div className="form-grid">{FIELDS.filter((f) => !f.more).map(field)}</div>
      <details open={moreHasError || undefined}>
        <summary>More options</summary>
        <div className="form-grid">{FIELDS.filter((f) => f.more).map(field)}</div>
      </details>
      <Problem message={error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          Submit task
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </form>
  );
}
