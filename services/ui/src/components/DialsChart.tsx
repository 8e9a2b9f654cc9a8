import type { Minute } from "../types";

const SERIES = [
  { key: "dials", label: "Dials", className: "bar-dials" },
  { key: "completed", label: "Completed", className: "bar-completed" },
  { key: "failed", label: "Failed", className: "bar-failed" },
] as const;

/** Dials and results a minute, as grouped bars; a table for screen readers. */
export function DialsChart({ minutes }: { minutes: Minute[] }) {
  if (!minutes.length) return <p className="muted">No dials yet.</p>;
  const width = 640;
  const height = 180;
  const top = Math.max(1, ...minutes.flatMap((m) => [m.dials, m.completed, m.failed]));
  const slot = width / minutes.length;
  const bar = Math.max(1, (slot - 2) / SERIES.length);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label="Dials and results a minute">
        {minutes.map((minute, i) =>
          SERIES.map((series, j) => {
            const value = minute[series.key];
            const h = (value / top) * height;
            return (
              <rect
                key={`${minute.minute}-${series.key}`}
                className={series.className}
                x={i * slot + j * bar}
                y={height - h}
                width={bar}
                height={h}
              >
                <title>{`${new Date(minute.minute).toLocaleTimeString()}: ${value} ${series.label.toLowerCase()}`}</title>
              </rect>
            );
          }),
        )}
        <text x={0} y={height + 16} className="axis">
          {new Date(minutes[0].minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}
        </text>
        <text x={width} y={height + 16} textAnchor="end" className="axis">
          {new Date(minutes[minutes.length - 1].minute).toLocaleTimeString([], {
            hour: "2-digit",
            minute: "2-digit",
          })}
        </text>
      </svg>
      <figcaption className="legend">
        {SERIES.map((s) => (
          <span key={s.key}>
            <i className={`swatch ${s.className}`} /> {s.label}
          </span>
        ))}
        <span className="muted"> (peak {top} a minute)</span>
      </figcaption>
    </figure>
  );
}
