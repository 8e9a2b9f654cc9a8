import { useEffect } from "react";

import { href } from "../router";
import { usePolling } from "../usePolling";
import { disabledText, loadDisabled, WEBHOOKS_CHANGED } from "../webhooks";

/** The service disables a webhook on its own (410 Gone, or failing a whole retry period): a slow check. */
const PACE_MS = 30_000;

/**
 * On every page: webhooks the service disabled, whose receivers get nothing until someone
 * enables them again. A failed check shows nothing: the banner must never break a page.
 */
export function WebhookBanner() {
  const { data, error, reload } = usePolling(loadDisabled, PACE_MS, []);
  useEffect(() => {
    const onChange = () => void reload();
    window.addEventListener(WEBHOOKS_CHANGED, onChange);
    return () => window.removeEventListener(WEBHOOKS_CHANGED, onChange);
  }, [reload]);
  if (error || !data || data.count === 0) return null;
  return (
    <div className="banner" role="status">
      <strong>{disabledText(data)}</strong>{" "}
      <a href={href({ page: "webhooks" })}>See the webhooks</a>
    </div>
  );
}
