/** The standalone page that email links open: one page per route of `fragment.ts`. */
import { useMemo } from "react";
import { createFunctionsClient } from "./api.ts";
import { ApprovalPage } from "./approval_page.tsx";
import { ConsentPage } from "./consent_page.tsx";
import type { FragmentAddress } from "./fragment.ts";
import { PreferencesPage } from "./preferences_page.tsx";
import { RecordingPlayer } from "./recording_player.tsx";
import { StreamViewer } from "./stream_viewer.tsx";

/** Props of {@linkcode App}. */
export interface AppProps {
  /** The functions' base URL. */
  functionsUrl: string;
  /** The page and link read from the address. */
  address: FragmentAddress;
  /** The product's name. */
  appName: string;
}

/** Chooses the page. */
export function App(props: AppProps) {
  const { functionsUrl, address } = props;
  const client = useMemo(
    () => createFunctionsClient(functionsUrl, { credentials: { link: address.link } }),
    [functionsUrl, address.link],
  );
  if (!address.route || !address.link) {
    return (
      <main className="vsv-page">
        <h1>{props.appName}</h1>
        <p role="status" className="vsv-status">
          This page opens from the links in our emails. Open the email again and use its link.
        </p>
      </main>
    );
  }
  switch (address.route) {
    case "watch":
      return (
        <main className="vsv-page vsv-wide">
          <StreamViewer functionsUrl={functionsUrl} link={address.link} />
        </main>
      );
    case "recording":
      return (
        <main className="vsv-page vsv-wide">
          <h1>Recording</h1>
          <RecordingPlayer client={client} />
        </main>
      );
    case "consent":
      return <ConsentPage client={client} appName={props.appName} />;
    case "preferences":
      return <PreferencesPage client={client} />;
    case "approval":
      return <ApprovalPage client={client} />;
  }
}
