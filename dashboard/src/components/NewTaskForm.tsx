import { type FormEvent, useState } from 'react';
import { ApiError, post } from '../api.ts';
import type { Task } from '../api-types.ts';
import { href } from '../router.ts';
import { Problem } from './ErrorLine.tsx';

type FieldName = 'prompt' | 'allowed_tools' | 'cwd' | 'timeout' | 'model';
const FIELDS: FieldName[] = ['prompt', 'allowed_tools', 'cwd', 'timeout', 'model'];

/** The server names a field like `allowed_tools` or `allowed_tools.2`: the form field is its first part. */
function formField(field: string | undefined): FieldName | undefined {
  const head = field?.split(/[.[]/)[0];
  return FIELDS.find((f) => f === head);
}

/** The request as POST /v1/tasks takes it: empty optional fields are left out, so server defaults apply. */
function request(values: Record<FieldName, string>): Record<string, unknown> {
  const body: Record<string, unknown> = { prompt: values.prompt };
  const tools = values.allowed_tools
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tools.length) body.allowed_tools = tools;
  if (values.cwd.trim()) body.cwd = values.cwd.trim();
  // Sent as typed (a number when it reads as one): the server's message says what it must be.
  if (values.timeout.trim())
    body.timeout = Number.isNaN(Number(values.timeout)) ? values.timeout : Number(values.timeout);
  if (values.model.trim()) body.model = values.model.trim();
  return body;
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
  const [values, setValues] = useState<Record<FieldName, string>>({
    prompt: '',
    allowed_tools: '',
    cwd: '',
    timeout: '',
    model: '',
  });
  const [fieldError, setFieldError] = useState<{ field: FieldName; message: string } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const set = (name: FieldName) => (e: { target: { value: string } }) =>
    setValues({ ...values, [name]: e.target.value });
  const errorFor = (name: FieldName) => (fieldError?.field === name ? fieldError.message : undefined);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setFieldError(undefined);
    setBusy(true);
    try {
      const task = await post<Task>('/v1/tasks', request(values));
      window.location.hash = href({ page: 'task', id: task.id });
    } catch (err) {
      const field = err instanceof ApiError ? formField(err.field) : undefined;
      if (field) setFieldError({ field, message: (err as Error).message });
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const input = (name: FieldName, label: string, placeholder: string) => (
    <label className={errorFor(name) ? 'has-error' : undefined}>
      {label}
      <input name={name} value={values[name]} onChange={set(name)} placeholder={placeholder} />
      <FieldError message={errorFor(name)} />
    </label>
  );

  return (
    <form className="card new-task" onSubmit={(e) => void submit(e)}>
      <h2>New task</h2>
      <label className={errorFor('prompt') ? 'has-error' : undefined}>
        Prompt
        <textarea name="prompt" rows={4} value={values.prompt} onChange={set('prompt')} />
        <FieldError message={errorFor('prompt')} />
      </label>
      <div className="form-grid">
        {input('allowed_tools', 'Allowed tools (comma-separated)', 'Read, Bash(git status)')}
        {input('cwd', 'Working directory', 'server default')}
        {input('timeout', 'Timeout (ms)', 'server default')}
        {input('model', 'Model (optional)', 'server default')}
      </div>
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
