/** The email preferences page: one choice per kind of email, and "unsubscribe from everything". */
import { useEffect, useState } from "react";
import type { FunctionsClient } from "./api.ts";
import type { NotifyChoices } from "./contract.ts";
import { describeFailure } from "./messages.ts";

/** Props of {@linkcode PreferencesPage}. */
export interface PreferencesPageProps {
  /** A client carrying the preferences link. */
  client: FunctionsClient;
}

const KINDS: { key: keyof NotifyChoices; label: string }[] = [
  { key: "streamStarted", label: "When a stream starts (with a link to watch)" },
  { key: "streamEnded", label: "When a stream ends" },
  { key: "recordingReady", label: "When a recording is ready (with a link to play it)" },
];

/** Reads and saves a guardian's email choices. */
export function PreferencesPage(props: PreferencesPageProps) {
  const { client } = props;
  const [choices, setChoices] = useState<NotifyChoices>();
  const [status, setStatus] = useState("Loading your email preferences…");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let current = true;
    client.preferences().then(
      (guardian) => {
        if (!current) return;
        setChoices(guardian.notify);
        setStatus("Choose which emails you want, then save.");
      },
      (error) => current && setStatus(describeFailure(error)),
    );
    return () => {
      current = false;
    };
  }, [client]);

  async function save(next: NotifyChoices, done: string) {
    setBusy(true);
    setStatus("Saving…");
    try {
      const guardian = await client.savePreferences(next);
      setChoices(guardian.notify);
      setStatus(done);
    } catch (error) {
      setStatus(describeFailure(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="vsv-page">
      <h1>Email preferences</h1>
      <p role="status" className="vsv-status">{status}</p>
      {choices && (
        <form
          className="vsv-form"
          onSubmit={(event) => {
            event.preventDefault();
            void save(choices, "Saved. Your choices apply to the next emails.");
          }}
        >
          <fieldset>
            <legend>Send me an email</legend>
            {KINDS.map(({ key, label }) => (
              <label key={key} className="vsv-check">
                <input
                  type="checkbox"
                  name={key}
                  checked={choices[key]}
                  onChange={(event) => setChoices({ ...choices, [key]: event.target.checked })}
                />
                {label}
              </label>
            ))}
          </fieldset>
          <p className="vsv-actions">
            <button type="submit" className="vsv-button vsv-primary" disabled={busy}>
              Save preferences
            </button>
            <button
              type="button"
              className="vsv-button"
              disabled={busy}
              onClick={() =>
                void save(
                  { streamStarted: false, streamEnded: false, recordingReady: false },
                  "You are unsubscribed from every email. You can turn any back on here.",
                )}
            >
              Unsubscribe from everything
            </button>
          </p>
        </form>
      )}
    </main>
  );
}
