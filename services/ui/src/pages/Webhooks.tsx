import { useState } from "react";

import { ApiError } from "../api";
import { ConfirmButton } from "../components/ConfirmButton";
import { DeliveryLog } from "../components/DeliveryLog";
import { SecretBox } from "../components/SecretBox";
import { WebhookForm } from "../components/WebhookForm";
import { when } from "../format";
import type { Webhook } from "../types";
import { usePolling } from "../usePolling";
import {
  announceChange,
  createWebhook,
  deleteWebhook,
  DISABLED_REASONS,
  eventsText,
  FORM_DEFAULTS,
  formOf,
  listWebhooks,
  patchBody,
  rotateSecret,
  sendTest,
  setEnabled,
  updateWebhook,
  WEBHOOK_PAGE_SIZE,
} from "../webhooks";

/** Webhooks change when someone edits them, or when the service disables one: a slow refresh. */
const PACE_MS = 10_000;

/** A secret from one answer, until the user says it is stored. */
interface ShownSecret {
  title: string;
  secret: string;
  previousSecretUntil?: string | null;
}

/** The webhooks: add, list, edit, enable or disable, rotate the secret, test, delete; a delivery log. */
export function Webhooks() {
  const [page, setPage] = useState(0);
  const list = usePolling(() => listWebhooks(page), PACE_MS, [page]);
  const [secret, setSecret] = useState<ShownSecret | null>(null);
  const [editing, setEditing] = useState<Webhook | null>(null);
  const [logOf, setLogOf] = useState<Webhook | null>(null);
  const [busy, setBusy] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [actionError, setActionError] = useState<string>();
  const total = list.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / WEBHOOK_PAGE_SIZE));

  /** Runs one row's action; its answer is said in the status line, a failure in the alert. */
  async function act(webhook: Webhook, run: () => Promise<string>) {
    setBusy(webhook.id);
    setNotice(undefined);
    setActionError(undefined);
    try {
      setNotice(await run());
      announceChange();
    } catch (exc) {
      const gone = exc instanceof ApiError && exc.status === 404;
      setActionError(gone ? `The webhook to ${webhook.url} no longer exists.` : exc instanceof ApiError ? exc.detail : String(exc));
    } finally {
      setBusy(undefined);
    }
    await list.reload();
  }

  const toggle = (w: Webhook) =>
    act(w, async () => {
      await setEnabled(w.id, !w.enabled);
      return w.enabled
        ? `Disabled ${w.url}: no event is sent to it until it is enabled.`
        : `Enabled ${w.url}: what is still pending goes out again.`;
    });

  const rotate = (w: Webhook) =>
    act(w, async () => {
      const out = await rotateSecret(w.id);
      if (out.secret) setSecret({ title: `New secret for ${w.url}`, secret: out.secret, previousSecretUntil: out.previousSecretUntil });
      return `The secret of ${w.url} was rotated.`;
    });

  const test = (w: Webhook) =>
    act(w, async () => {
      await sendTest(w.id);
      return `A webhook.test event was queued for ${w.url}: its delivery is in the log.`;
    });

  const remove = (w: Webhook) =>
    act(w, async () => {
      await deleteWebhook(w.id);
      if (editing?.id === w.id) setEditing(null);
      if (logOf?.id === w.id) setLogOf(null);
      return `Deleted the webhook to ${w.url} and its delivery log.`;
    });

  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      <p className="muted">
        The service POSTs signed events about calls and campaigns to these URLs, retrying failures with backoff.
        A receiver that answers 410 Gone, or that takes nothing for a whole retry period, is disabled.
      </p>
      {secret && (
        <SecretBox title={secret.title} secret={secret.secret} onDone={() => setSecret(null)}>
          {secret.previousSecretUntil && (
            <p>The previous secret keeps signing beside it until {when(secret.previousSecretUntil)}.</p>
          )}
        </SecretBox>
      )}
      <WebhookForm
        title="Add a webhook"
        initial={FORM_DEFAULTS}
        submitLabel="Add the webhook"
        busyLabel="Adding…"
        clearOnSuccess
        onSubmit={async (form) => {
          const out = await createWebhook(form);
          setSecret({ title: `Secret for ${out.url}`, secret: out.secret });
          setNotice(`Added the webhook to ${out.url}.`);
          announceChange();
          await list.reload();
        }}
      />
      <section className="card" aria-labelledby="webhook-list-title">
        <h2 id="webhook-list-title">Registered webhooks</h2>
        {list.error && <p className="error" role="alert">{list.error.detail}</p>}
        {actionError && <p className="error" role="alert">{actionError}</p>}
        <p role="status" className="small">{notice}</p>
        {!list.data && !list.error && <p className="muted">Loading…</p>}
        {list.data && list.data.rows.length === 0 && (
          <p className="muted">No webhooks yet: add one above to have events sent to your systems.</p>
        )}
        {list.data && list.data.rows.length > 0 && (
          <div className="table-wrap">
            <table className="webhooks">
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Events</th>
                  <th scope="col">Description</th>
                  <th scope="col">State</th>
                  <th scope="col">Created</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.data.rows.map((w) => (
                  <tr key={w.id}>
                    <td data-label="URL" className="url">{w.url}</td>
                    <td data-label="Events">{eventsText(w.events)}</td>
                    <td data-label="Description">{w.description ?? <span className="muted">—</span>}</td>
                    <td data-label="State"><StateText webhook={w} /></td>
                    <td data-label="Created">{when(w.createdAt)}</td>
                    <td data-label="Actions">
                      <div className="actions">
                        <button type="button" onClick={() => setEditing(w)} aria-pressed={editing?.id === w.id}>Edit</button>
                        <button type="button" disabled={busy === w.id} onClick={() => void toggle(w)}>
                          {w.enabled ? "Disable" : "Enable"}
                        </button>
                        <ConfirmButton
                          label="Rotate secret"
                          question={`Make a new secret for ${w.url}? The current one keeps signing beside it for a while.`}
                          disabled={busy === w.id}
                          onConfirm={() => void rotate(w)}
                        />
                        <button type="button" disabled={busy === w.id} onClick={() => void test(w)}>Send a test</button>
                        <button type="button" onClick={() => setLogOf(w)} aria-pressed={logOf?.id === w.id}>Deliveries</button>
                        <ConfirmButton
                          label="Delete"
                          question={`Delete the webhook to ${w.url} and its delivery log?`}
                          disabled={busy === w.id}
                          onConfirm={() => void remove(w)}
                        />
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <nav className="pager" aria-label="Pages of webhooks">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
          <span>
            Page {page + 1} of {pages} ({total} {total === 1 ? "webhook" : "webhooks"})
          </span>
          <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>Next</button>
        </nav>
      </section>
      {editing && (
        <WebhookForm
          key={editing.id}
          title={`Edit the webhook to ${editing.url}`}
          initial={formOf(editing)}
          submitLabel="Save changes"
          busyLabel="Saving…"
          focusOnOpen
          onCancel={() => setEditing(null)}
          onSubmit={async (form) => {
            const body = patchBody(editing, form);
            if (Object.keys(body).length) {
              await updateWebhook(editing.id, body);
              announceChange();
            }
            setNotice(Object.keys(body).length ? `Saved the webhook to ${form.url.trim()}.` : "Nothing changed.");
            setEditing(null);
            await list.reload();
          }}
        />
      )}
      {logOf && <DeliveryLog key={logOf.id} webhook={logOf} onClose={() => setLogOf(null)} />}
    </section>
  );
}

function StateText({ webhook }: { webhook: Webhook }) {
  if (webhook.enabled) return <span className="badge badge-enabled">enabled</span>;
  return (
    <>
      <span className="badge badge-disabled">disabled</span>
      {webhook.disabledReason ? (
        <span className="small block">
          by the service ({webhook.disabledReason}): {DISABLED_REASONS[webhook.disabledReason]}
          {webhook.disabledAt && <span className="muted">, {when(webhook.disabledAt)}</span>}
        </span>
      ) : (
        <span className="muted small block">by hand</span>
      )}
    </>
  );
}
