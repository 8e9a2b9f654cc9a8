import { percent } from "../format";

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const clamped = Math.max(0, Math.min(1, value));
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(clamped * 100)}
    >
      <div className="progress-fill" style={{ width: `${clamped * 100}%` }} />
      <span className="progress-text">{percent(clamped)}</span>
    </div>
  );
}
