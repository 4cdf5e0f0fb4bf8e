import { duration, json, tokens } from '../format.ts';
import type { Entry } from '../transcript.ts';
import { StatusBadge } from './StatusBadge.tsx';

/** The live transcript. Model and tool text is shown verbatim as text (markdown included), never as HTML. */
export function Transcript({ entries }: { entries: Entry[] }) {
  if (entries.length === 0) return <p className="empty">No events yet.</p>;
  return (
    <ol className="transcript">
      {entries.map((e) => {
        switch (e.kind) {
          case 'status':
            return (
              <li key={e.key} className="ev ev-status">
                <StatusBadge status={e.status} />
                {e.error ? <span className="ev-error">{` ${e.error.kind}: ${e.error.message}`}</span> : null}
              </li>
            );
          case 'init':
            return (
              <li key={e.key} className="ev ev-init">
                Claude Code started: model <code>{e.model}</code>, tools{' '}
                <code>{e.tools.length ? e.tools.join(', ') : 'none'}</code>
              </li>
            );
          case 'text':
            return (
              <li key={e.key} className="ev ev-text">
                <pre className="text">{e.text}</pre>
              </li>
            );
          case 'tool':
            return (
              <li
                key={e.key}
                className={`ev ev-tool${e.denied ? ' ev-denied' : e.isError ? ' ev-failed' : ''}`}
                data-tool={e.name}
              >
                <div className="tool-head">
                  <span className="tool-name">{e.name}</span>
                  {e.denied ? <span className="flag flag-denied">permission denied</span> : null}
                  {!e.denied && e.isError ? <span className="flag flag-error">error</span> : null}
                  {e.result === undefined ? <span className="flag">running…</span> : null}
                </div>
                <pre className="tool-input">{json(e.input)}</pre>
                {e.result !== undefined ? <pre className="tool-result">{e.result}</pre> : null}
              </li>
            );
          case 'result':
            return (
              <li key={e.key} className="ev ev-result">
                Claude Code finished: {e.turns ?? '—'} turns, {duration(e.durationMs)}, {tokens(e.inputTokens)} in /{' '}
                {tokens(e.outputTokens)} out (the task's metered cost is above)
              </li>
            );
          default:
            return null;
        }
      })}
    </ol>
  );
}
