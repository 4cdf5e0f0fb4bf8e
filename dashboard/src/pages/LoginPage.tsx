import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import type { SessionInfo } from '../api-types.ts';

/** Trades an API key for a session cookie (POST /v1/session); the key itself is not kept anywhere. */
export function LoginPage({ onLogin }: { onLogin: (session: SessionInfo) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await api<SessionInfo>('/v1/session', { method: 'POST', body: { api_key: key } });
      setKey('');
      onLogin(session);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <h1>Switchyard</h1>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="current-password"
          value={key}
          onChange={(e) => setKey(e.target.value)}
        />
        <button type="submit" className="primary" disabled={busy || key === ''}>
          Log in
        </button>
        {error ? (
          <p className="problem" role="alert">
            {error}
          </p>
        ) : null}
      </form>
      <p className="hint">The key is one of SWITCHYARD_API_KEYS. The browser keeps only a session cookie.</p>
    </main>
  );
}
