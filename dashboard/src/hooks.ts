import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * Loads `load()` now and every `intervalMs` while the page is open; `reload` loads at once (after an
 * action). `key` names what `load` depends on (a filter, an id). Errors are kept beside the last good value, so a blip does not blank the page.
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, key: string) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    try {
      setValue(await loadRef.current());
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);
  // `key` names what the load depends on (a filter, an id): a new key starts afresh.
  // biome-ignore lint/correctness/useExhaustiveDependencies: key is the dependency, read through loadRef
  useEffect(() => {
    setValue(undefined);
    void reload();
    const timer = setInterval(() => void reload(), intervalMs);
    return () => clearInterval(timer);
  }, [key, intervalMs, reload]);
  return { value, error, reload };
}

/** Re-renders every `ms`, for ages and running durations. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
