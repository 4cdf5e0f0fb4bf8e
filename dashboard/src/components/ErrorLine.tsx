import type { ErrorInfo } from '../api-types.ts';

export function ErrorLine({ error }: { error: ErrorInfo | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error-line">
      <strong>{error.kind}</strong>: {error.message}
      {error.field ? ` (field ${error.field})` : ''}
    </p>
  );
}

export function Problem({ message }: { message: string | undefined }) {
  return message ? (
    <p className="problem" role="alert">
      {message}
    </p>
  ) : null;
}
