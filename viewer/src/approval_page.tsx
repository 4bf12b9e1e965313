/**
 * The approval page of the primary guardian: who the child invited, approve or deny. Opening
 * the page decides nothing; only a click does.
 */
import { useEffect, useState } from "react";
import type { FunctionsClient } from "./api.ts";
import type { GuardianJson } from "./contract.ts";
import { describeFailure } from "./messages.ts";

/** Props of {@linkcode ApprovalPage}. */
export interface ApprovalPageProps {
  /** A client carrying the approval link. */
  client: FunctionsClient;
}

interface Invitation {
  guardian: GuardianJson;
  streamer: { displayName: string };
}

/** Shows an invitation and sends the primary guardian's decision. */
export function ApprovalPage(props: ApprovalPageProps) {
  const { client } = props;
  const [invitation, setInvitation] = useState<Invitation>();
  const [status, setStatus] = useState("Loading the invitation…");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let current = true;
    client.approval().then(
      (loaded) => {
        if (!current) return;
        setInvitation(loaded);
        setStatus(decisionText(loaded.guardian) ?? "Nothing is decided until you choose.");
      },
      (error) => current && setStatus(describeFailure(error)),
    );
    return () => {
      current = false;
    };
  }, [client]);

  async function decide(decision: "approve" | "deny") {
    if (!invitation) return;
    setBusy(true);
    setStatus(decision === "approve" ? "Approving…" : "Denying…");
    try {
      const guardian = await client.decideApproval(decision);
      setInvitation({ ...invitation, guardian });
      setStatus(decisionText(guardian) ?? "Saved.");
    } catch (error) {
      setStatus(describeFailure(error));
    } finally {
      setBusy(false);
    }
  }

  const guardian = invitation?.guardian;
  const undecided = guardian?.status === "awaiting_approval";
  return (
    <main className="vsv-page">
      <h1>Approve a viewer</h1>
      {invitation && guardian && (
        <p>
          <strong>{invitation.streamer.displayName}</strong> invited{" "}
          <strong>{guardian.name ?? guardian.email}</strong>
          {guardian.name ? ` (${guardian.email})` : ""}{" "}
          to watch their VR streams and recordings. If you approve, we ask that person to confirm by
          email; they can watch only after that. You can remove them at any time.
        </p>
      )}
      <p role="status" className="vsv-status">{status}</p>
      {undecided && (
        <p className="vsv-actions">
          <button
            type="button"
            className="vsv-button vsv-primary"
            disabled={busy}
            onClick={() => void decide("approve")}
          >
            Approve
          </button>
          <button
            type="button"
            className="vsv-button"
            disabled={busy}
            onClick={() => void decide("deny")}
          >
            Deny
          </button>
        </p>
      )}
    </main>
  );
}

function decisionText(guardian: GuardianJson): string | undefined {
  switch (guardian.status) {
    case "awaiting_approval":
      return undefined;
    case "revoked":
      return "Denied. This person cannot watch.";
    default:
      return "Approved. We emailed them to confirm before they can watch.";
  }
}
