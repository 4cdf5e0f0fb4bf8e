import type { Step } from '../api-types.ts';
import { duration } from '../format.ts';

/**
 * The run's DAG as a layered SVG: a step sits one column right of its deepest dependency. Boxes are
 * coloured by status through CSS classes; labels are SVG text, so a step name is never markup.
 */
const W = 220;
const H = 54;
const GAP_X = 60;
const GAP_Y = 18;

export function layers(deps: Record<string, string[]>): Map<string, number> {
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return 0; // a cycle cannot be stored, but never loop on one
    visiting.add(name);
    const d = Math.max(-1, ...(deps[name] ?? []).filter((n) => n in deps).map(visit)) + 1;
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const name of Object.keys(deps)) visit(name);
  return depth;
}

export function Dag({
  steps,
  deps,
  selected,
  onSelect,
}: {
  steps: Step[];
  deps: Record<string, string[]>;
  selected?: string | undefined;
  onSelect: (name: string) => void;
}) {
  const all: Record<string, string[]> = {};
  for (const s of steps) all[s.name] = deps[s.name] ?? [];
  const depth = layers(all);
  const columns: string[][] = [];
  for (const s of steps) {
    const d = depth.get(s.name) ?? 0;
    const column = columns[d] ?? [];
    column.push(s.name);
    columns[d] = column;
  }
  const pos = new Map<string, { x: number; y: number }>();
  for (const [c, names] of columns.entries()) {
    for (const [r, n] of (names ?? []).entries()) pos.set(n, { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) });
  }
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(1, ...columns.map((c) => c?.length ?? 0)) * (H + GAP_Y) - GAP_Y;
  const byName = new Map(steps.map((s) => [s.name, s]));
  return (
    <svg className="dag" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img">
      <title>Run graph</title>
      {steps.flatMap((s) =>
        all[s.name]!.filter((d) => pos.has(d)).map((d) => {
          const a = pos.get(d)!;
          const b = pos.get(s.name)!;
          return (
            <line
              key={`${d}->${s.name}`}
              className="dag-edge"
              x1={a.x + W}
              y1={a.y + H / 2}
              x2={b.x}
              y2={b.y + H / 2}
            />
          );
        }),
      )}
      {[...pos].map(([name, p]) => {
        const s = byName.get(name)!;
        const ms = s.started_at
          ? (s.finished_at ? Date.parse(s.finished_at) : Date.now()) - Date.parse(s.started_at)
          : null;
        return (
          // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>
          <g
            key={name}
            className={`dag-node dag-${s.status}${selected === name ? ' dag-selected' : ''}`}
            transform={`translate(${p.x},${p.y})`}
            onClick={() => onSelect(name)}
            onKeyDown={(e) => (e.key === 'Enter' ? onSelect(name) : undefined)}
            tabIndex={0}
            role="button"
            data-step={name}
          >
            <rect width={W} height={H} rx={6} />
            <text x={10} y={21} className="dag-name">
              {name.length > 26 ? `${name.slice(0, 25)}…` : name}
            </text>
            <text x={10} y={41} className="dag-meta">
              {`${s.status.replaceAll('_', ' ')} · ${s.worker}${s.attempts > 1 ? ` · ×${s.attempts}` : ''}${ms !== null ? ` · ${duration(ms)}` : ''}`}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
