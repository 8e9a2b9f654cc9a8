import { type ReactNode, useId, useState } from "react";

/**
 * A signing secret the API shows in one answer only (on creation and on rotation): kept on
 * screen until dismissed, with a copy button where the browser offers a clipboard.
 */
export function SecretBox({
  title,
  secret,
  children,
  onDone,
}: {
  title: string;
  secret: string;
  children?: ReactNode;
  onDone: () => void;
}) {
  const titleId = useId();
  const inputId = useId();
  const [copied, setCopied] = useState("");
  const clipboard = typeof navigator !== "undefined" ? navigator.clipboard : undefined;

  async function copy() {
    try {
      await clipboard!.writeText(secret);
      setCopied("Copied.");
    } catch {
      setCopied("Copying failed: select the secret and copy it by hand.");
    }
  }

  return (
    <section className="card secret-box" aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      <p className="secret-warning">
        <strong>Copy it now, it is not shown again.</strong> Receivers verify each request's signature with it
        (Standard Webhooks).
      </p>
      <label htmlFor={inputId}>Signing secret</label>
      <div className="secret-row">
        <input id={inputId} readOnly value={secret} autoFocus onFocus={(e) => e.target.select()} spellCheck={false} />
        {clipboard && (
          <button type="button" onClick={() => void copy()}>
            Copy
          </button>
        )}
      </div>
      <p className="small" aria-live="polite">{copied}</p>
      {children}
      <div className="actions">
        <button type="button" onClick={onDone}>
          I have stored it
        </button>
      </div>
    </section>
  );
}
