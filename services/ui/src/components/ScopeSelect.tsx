import { Field } from "./Field";

export interface CampaignName {
  id: string;
  name: string;
}

/** Which do-not-call list: the global one ("") or one campaign's. */
export function ScopeSelect({
  label,
  value,
  onChange,
  campaigns,
  error,
  hint,
}: {
  label: string;
  value: string;
  onChange: (campaignId: string) => void;
  campaigns: CampaignName[];
  error?: string;
  hint?: string;
}) {
  return (
    <Field label={label} error={error} hint={hint}>
      {(p) => (
        <select {...p} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">Global (every campaign and single call)</option>
          {campaigns.map((c) => (
            <option key={c.id} value={c.id}>
              Campaign: {c.name}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** An entry's scope in words: "Global", or the campaign's name (its id when not loaded). */
export function scopeText(campaignId: string | null, campaigns: CampaignName[]): string {
  if (!campaignId) return "Global";
  return `Campaign: ${campaigns.find((c) => c.id === campaignId)?.name ?? campaignId}`;
}
