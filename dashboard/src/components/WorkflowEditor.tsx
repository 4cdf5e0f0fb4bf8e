import { useRef, useState } from 'react';
import { api } from '../api.ts';
import type { WorkflowSummary } from '../api-types.ts';
import { validationLine } from '../validation-line.ts';

const LINE_HEIGHT = 20; // px; must match .yaml-editor's line-height in styles.css
const PADDING = 8; // px; .yaml-editor textarea's padding-top

interface Located {
  message: string;
  line: number | undefined;
}

/** Paste a definition and register it (POST /v1/workflows); a 400 is shown beside it with its line marked. */
export function WorkflowEditor({
  onSaved,
  initial,
}: {
  onSaved: (w: WorkflowSummary) => void;
  /** A registered workflow's definition to edit (remount with a new key to load another). */
  initial?: { text: string; filename: string };
}) {
  const [text, setText] = useState(initial?.text ?? '');
  const [filename, setFilename] = useState(initial?.filename ?? 'workflow.yaml');
  const [problem, setProblem] = useState<Located | undefined>();
  const [saved, setSaved] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  const gutter = useRef<HTMLOListElement>(null);
  const lines = text.split('\n');

  const save = async () => {
    setProblem(undefined);
    setSaved(undefined);
    setBusy(true);
    try {
      const name = filename.trim() || 'workflow.yaml';
      const contentType = /\.json$/i.test(name) ? 'application/json' : 'application/yaml';
      const w = await api<WorkflowSummary>(`/v1/workflows?filename=${encodeURIComponent(name)}`, {
        method: 'POST',
        text: { body: text, contentType },
      });
      setSaved(`Registered ${w.name}, version ${w.version}.`);
      onSaved(w);
    } catch (err) {
      const message = (err as Error).message;
      setProblem({ message, line: validationLine(message, filename.trim() || 'workflow.yaml') });
    } finally {
      setBusy(false);
    }
  };

  const onScroll = (e: { currentTarget: HTMLTextAreaElement }) => {
    setScrollTop(e.currentTarget.scrollTop);
    if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
  };
  const bad = problem?.line !== undefined && problem.line <= lines.length ? problem.line : undefined;

  return (
    <div className="card workflow-editor">
      <h2>Register or update a workflow</h2>
      <p className="hint">
        Paste a definition (YAML or JSON). A workflow with the same name is updated to a new version.
      </p>
      <label>
        File name (shown in errors)
        <input value={filename} onChange={(e) => setFilename(e.target.value)} aria-label="File name" />
      </label>
      <div className="editor-row">
        <div className={`yaml-editor${bad ? ' has-error' : ''}`}>
          <ol className="yaml-gutter" ref={gutter} aria-hidden="true">
            {lines.map((_, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a line number is the line's identity
              <li key={i} className={i + 1 === bad ? 'line-bad' : undefined} data-line={i + 1}>
                {i + 1}
              </li>
            ))}
          </ol>
          <div className="yaml-text">
            {bad ? (
              <div
                className="yaml-band"
                data-line={bad}
                style={{ top: `${PADDING + (bad - 1) * LINE_HEIGHT - scrollTop}px` }}
              />
            ) : null}
            <textarea
              aria-label="Workflow definition"
              spellCheck={false}
              wrap="off"
              rows={Math.max(12, Math.min(30, lines.length + 1))}
              value={text}
              onChange={(e) => setText(e.target.value)}
              onScroll={onScroll}
            />
          </div>
        </div>
        <div className="editor-side">
          {problem ? (
            <div className="validation" role="alert">
              <strong>Not registered</strong>
              <p>{problem.message}</p>
              {bad ? (
                <p>
                  Line {bad}: <code>{lines[bad - 1]}</code>
                </p>
              ) : null}
            </div>
          ) : null}
          {saved ? (
            <p className="saved" role="status">
              {saved}
            </p>
          ) : null}
          {!problem && !saved ? <p className="hint">Errors name the file, line, step and field.</p> : null}
        </div>
      </div>
      <div className="actions">
        <button type="button" className="primary" disabled={busy || !text.trim()} onClick={() => void save()}>
          Register
        </button>
      </div>
    </div>
  );
}
