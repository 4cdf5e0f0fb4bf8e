/**
 * A tiny hash router: `#/tasks/ID` and friends. The server serves one page at `/`, so no client route
 * can shadow an API path, and no router dependency is needed.
 */
import { useEffect, useState } from 'react';

export type Route =
  | { page: 'tasks' }
  | { page: 'task'; id: string }
  | { page: 'runs' }
  | { page: 'run'; id: string }
  | { page: 'workflows' }
  | { page: 'pools' }
  | { page: 'reviews' }
  | { page: 'dlq' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [first, id] = parts;
  if (first === 'tasks' && id) return { page: 'task', id };
  if (first === 'runs' && id) return { page: 'run', id };
  if (first === 'runs') return { page: 'runs' };
  if (first === 'workflows') return { page: 'workflows' };
  if (first === 'pools') return { page: 'pools' };
  if (first === 'reviews') return { page: 'reviews' };
  if (first === 'dlq') return { page: 'dlq' };
  return { page: 'tasks' };
}

export function href(route: Route): string {
  switch (route.page) {
    case 'task':
      return `#/tasks/${encodeURIComponent(route.id)}`;
    case 'run':
      return `#/runs/${encodeURIComponent(route.id)}`;
    default:
      return `#/${route.page}`;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}
