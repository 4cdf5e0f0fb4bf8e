import { useCallback, useEffect, useState } from 'react';
import { api, setSession, whenUnauthorized } from './api.ts';
import type { SessionInfo } from './api-types.ts';
import { DlqPage } from './pages/DlqPage.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { PoolsPage } from './pages/PoolsPage.tsx';
import { ReviewsPage } from './pages/ReviewsPage.tsx';
import { RunPage } from './pages/RunPage.tsx';
import { RunsPage } from './pages/RunsPage.tsx';
import { TaskPage } from './pages/TaskPage.tsx';
import { TasksPage } from './pages/TasksPage.tsx';
import { WorkflowsPage } from './pages/WorkflowsPage.tsx';
import { href, type Route, useRoute } from './router.ts';

const NAV: Array<{ label: string; route: Route; pages: Route['page'][] }> = [
  { label: 'Tasks', route: { page: 'tasks' }, pages: ['tasks', 'task'] },
  { label: 'Runs', route: { page: 'runs' }, pages: ['runs', 'run'] },
  { label: 'Workflows', route: { page: 'workflows' }, pages: ['workflows'] },
  { label: 'Pools', route: { page: 'pools' }, pages: ['pools'] },
  { label: 'Reviews', route: { page: 'reviews' }, pages: ['reviews'] },
  { label: 'Dead letters', route: { page: 'dlq' }, pages: ['dlq'] },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'task':
      return <TaskPage id={route.id} />;
    case 'runs':
      return <RunsPage />;
    case 'run':
      return <RunPage id={route.id} />;
    case 'workflows':
      return <WorkflowsPage />;
    case 'pools':
      return <PoolsPage />;
    case 'reviews':
      return <ReviewsPage />;
    case 'dlq':
      return <DlqPage />;
    default:
      return <TasksPage />;
  }
}

export function App() {
  const route = useRoute();
  const [session, setState] = useState<SessionInfo | undefined>();
  const [error, setError] = useState<string | undefined>();
  const adopt = useCallback((s: SessionInfo) => {
    setSession(s);
    setState(s);
  }, []);
  useEffect(() => {
    whenUnauthorized(() => setState({ auth_required: true, authenticated: false }));
    api<SessionInfo>('/v1/session').then(adopt, (err: Error) => setError(err.message));
  }, [adopt]);
  if (error) return <p className="problem">Cannot reach the server: {error}</p>;
  if (!session) return <p className="loading">Loading…</p>;
  if (!session.authenticated) return <LoginPage onLogin={adopt} />;
  const logout = async () => {
    await api<SessionInfo>('/v1/session', { method: 'DELETE' }).catch(() => undefined);
    adopt({ auth_required: true, authenticated: false });
  };
  return (
    <>
      <header className="top">
        <a className="brand" href="#/tasks">
          Switchyard
        </a>
        <nav>
          {NAV.map((n) => (
            <a key={n.label} href={href(n.route)} className={n.pages.includes(route.page) ? 'active' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        {session.auth_required ? (
          <button type="button" className="logout" onClick={logout}>
            Log out
          </button>
        ) : null}
      </header>
      <main className="content">
        <Page route={route} />
      </main>
    </>
  );
}
