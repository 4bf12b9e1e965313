/**
 * The consent page (double opt-in). Mail scanners open every link in an email, so opening the
 * page changes nothing: only the explicit click on "Yes, I want to watch" confirms.
 */
import { useState } from "react";
import type { FunctionsClient } from "./api.ts";
import { describeFailure } from "./messages.ts";

/** Props of {@linkcode ConsentPage}. */
export interface ConsentPageProps {
  /** A client carrying the consent link. */
  client: FunctionsClient;
  /** The product's name, as in the emails. @default "VR Stream" */
  appName?: string;
}

type ConsentState = "asking" | "confirming" | "confirmed" | { failed: string };

/** Says what the invitation is and confirms it on an explicit click. */
export function ConsentPage(props: ConsentPageProps) {
  const appName = props.appName ?? "VR Stream";
  const [state, setState] = useState<ConsentState>("asking");

  async function confirm() {
    setState("confirming");
    try {
      await props.client.confirmConsent();
      setState("confirmed");
    } catch (error) {
      setState({ failed: describeFailure(error) });
    }
  }

  const status = state === "asking"
    ? "Nothing is confirmed until you choose the button below."
    : state === "confirming"
    ? "Confirming…"
    : state === "confirmed"
    ? "Confirmed. You will get an email when a stream starts."
    : state.failed;

  return (
    <main className="vsv-page">
      <h1>Watch a young person's VR streams</h1>
      <p>
        A young person who streams from a VR headset with {appName}{" "}
        invited you to watch, and their parent or guardian approved the invitation. If you confirm,
        you will get an email with a private link whenever they go live, and another when a
        recording is ready.
      </p>
      <p>
        If you don't know who this is, or don't want these emails, do nothing: without your
        confirmation you get no stream emails.
      </p>
      <p role="status" className="vsv-status">{status}</p>
      {state !== "confirmed" && (
        <p className="vsv-actions">
          <button
            type="button"
            className="vsv-button vsv-primary"
            onClick={confirm}
            disabled={state === "confirming"}
          >
            Yes, I want to watch
          </button>
        </p>
      )}
    </main>
  );
}
