import { useEffect, useState } from 'react';
import { api, post, seg } from '../api.ts';
import type { Page, Run, Step } from '../api-types.ts';
import { Problem } from '../components/ErrorLine.tsx';
import { ListBody } from '../components/ListParts.tsx';
import { age, time } from '../format.ts';
import { useNow, usePoll } from '../hooks.ts';
import { href } from '../router.ts';
import { oneAtATime, readSse } from '../sse.ts';

interface Notice {
  step: string;
  message: string;
  message_truncated?: boolean;
  deadline: string | null;
}

/**
 * What each waiting approval asks: the run's `approval_pending` events (the rendered message), read
 * from the run's stored event stream. The read stops once every waiting step has its notice and the
 * stream has gone quiet (later notices, after a rerun, replace earlier ones), or after a few seconds.
 */
function useNotices(runId: string, steps: string[]): Map<string, Notice> {
  const [notices, setNotices] = useState(new Map<string, Notice>());
  const wanted = steps.join('\n');
  useEffect(() => {
    const stop = new AbortController();
    const found = new Map<string, Notice>();
    const names = wanted.split('\n');
    let quiet: ReturnType<typeof setTimeout> | undefined;
    const limit = setTimeout(() => stop.abort(), 5000);
    oneAtATime(() =>
      readSse(
        `/v1/runs/${seg(runId)}/events`,
        (e) => {
          if (e.type === 'approval_pending') {
            try {
              const n = JSON.parse(e.data) as Notice;
              found.set(n.step, n);
              setNotices(new Map(found));
            } catch {
              // not a notice: nothing to show
            }
          }
          clearTimeout(quiet);
          if (names.every((n) => found.has(n))) quiet = setTimeout(() => stop.abort(), 300);
        },
        stop.signal,
      ),
    );
    return () => {
      clearTimeout(quiet);
      clearTimeout(limit);
      stop.abort();
    };
  }, [runId, wanted]);
  return notices;
}

function Review({ run, step, notice, onDone }: { run: Run; step: Step; notice?: Notice; onDone: () => void }) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const decide = async (verb: 'approve' | 'reject') => {
    setBusy(true);
    setError(undefined);
    try {
      await post(`/v1/runs/${seg(run.id)}/steps/${seg(step.name)}/${verb}`, comment ? { comment } : {});
      onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article className="card review" data-run={run.id} data-step={step.name}>
      <header>
        <a href={href({ page: 'run', id: run.id })}>{run.workflow}</a> · step <strong>{step.name}</strong> · waiting{' '}
        {age(step.started_at)}
        {notice?.deadline ? ` · decided by itself (rejected) at ${time(notice.deadline)}` : ''}
      </header>
      <pre className="text review-message">{notice ? notice.message : '(loading the message…)'}</pre>
      {notice?.message_truncated ? (
        <p className="hint">The message was cut; the step's inputs hold all of it.</p>
      ) : null}
      <label>
        Comment
        <textarea rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
      </label>
      <div className="actions">
        <button type="button" className="approve" disabled={busy} onClick={() => void decide('approve')}>
          Approve
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => void decide('reject')}>
          Reject
        </button>
      </div>
      <Problem message={error} />
    </article>
  );
}

function RunReviews({ run, onDone }: { run: Run; onDone: () => void }) {
  const waiting = run.steps.filter((s) => s.status === 'awaiting_approval');
  const notices = useNotices(
    run.id,
    waiting.map((s) => s.name),
  );
  return (
    <>
      {waiting.map((s) => (
        <Review key={s.name} run={run} step={s} notice={notices.get(s.name)} onDone={onDone} />
      ))}
    </>
  );
}

export function ReviewsPage() {
  useNow(5000);
  const { value, error, reload } = usePoll(
    () => api<Page<Run>>('/v1/runs?status=awaiting_approval&limit=50'),
    3000,
    'reviews',
  );
  return (
    <section>
      <div className="page-head">
        <h1>Reviews</h1>
      </div>
      <Problem message={error} />
      <ListBody page={value} empty="Nothing is waiting for a review.">
        {(items) => items.map((run) => <RunReviews key={run.id} run={run} onDone={() => void reload()} />)}
      </ListBody>
    </section>
  );
}
