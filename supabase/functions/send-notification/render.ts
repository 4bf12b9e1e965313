/**
 * The five guardian emails: approval (to the primary guardian, about an invitation), consent
 * (double opt-in), stream started (with a watch link), stream ended (with its duration) and
 * recording ready (with a recording link). Subjects carry nothing a streamer typed (names,
 * titles): only the product's name, so an invitation cannot put a stranger's text and URLs into
 * someone's inbox list. Each has a plain-text
 * and an HTML part saying the same thing, no images and nothing that tracks the reader. Links
 * point at the web viewer and carry a signed link token in the URL fragment, which browsers
 * never send to a server. Stream emails also carry `List-Unsubscribe` (the
 * notification-preferences URL with a preferences link) and `List-Unsubscribe-Post` (RFC 8058).
 */
import {
  LINK_LIFETIME_SECONDS,
  type LinkSigner,
  type LinkType,
} from "../../../shared/kernel/link.ts";
import type { OutgoingEmail } from "./mailer.ts";

/** The kinds of `notification_outbox`. */
export type NotificationKind =
  | "approval"
  | "consent"
  | "stream_started"
  | "stream_ended"
  | "recording_ready";

/** Everything an email says, read from the outbox row and what it points at. */
export interface Notification {
  /** The outbox row's id. */
  id: string;
  kind: NotificationKind;
  guardian: { id: string; email: string; name: string | null };
  /** The streamer's display name, when their account has one. */
  streamerName: string | null;
  session?: {
    id: string;
    title: string | null;
    startedAt: Date | null;
    endedAt: Date | null;
    durationSeconds: number | null;
  };
  recording?: { id: string; durationSeconds: number | null };
  /** The invited guardian an approval email asks the primary guardian about. */
  invitee?: { id: string; email: string; name: string | null };
}

/** What every email shares. */
export interface RenderSettings {
  /** The product's name (`APP_NAME`), shown as the sender's name and in the text. */
  appName: string;
  /** The sender address (`EMAIL_FROM`). */
  from: string;
  /** Base URL of the web viewer (`VIEWER_URL`). */
  viewerUrl: string;
  /** Base URL of the functions, for the one-click unsubscribe URL. */
  functionsUrl: string;
  links: LinkSigner;
}

/** The viewer page each kind of link opens: `{VIEWER_URL}/#/{route}?link={token}`. */
const VIEWER_ROUTES: Record<LinkType, string> = {
  watch: "watch",
  recording: "recording",
  consent: "consent",
  preferences: "preferences",
  approval: "approval",
};

interface Body {
  subject: string;
  /** The greeting's first paragraphs. */
  paragraphs: string[];
  action?: { label: string; url: string; note: string };
  /** Paragraphs after the button. */
  after?: string[];
  /** Why the guardian gets this email, and where to change it. */
  footer: string;
  footerLink?: { label: string; url: string };
}

/** Renders the email of `notification`. Deterministic for a given clock and link secret. */
export async function renderNotification(
  notification: Notification,
  settings: RenderSettings,
): Promise<OutgoingEmail> {
  const guardianId = notification.guardian.id;
  const who = singleLine(notification.streamerName, 60) ?? "Someone";
  const app = settings.appName;

  async function viewerLink(type: LinkType, objectId: string): Promise<string> {
    const token = await settings.links.sign({ type, guardianId, objectId });
    return `${settings.viewerUrl}/#/${VIEWER_ROUTES[type]}?link=${token}`;
  }

  const headers: Record<string, string> = {};
  let body: Body;
  if (notification.kind === "approval") {
    const invitee = notification.invitee!;
    const inviteeName = singleLine(invitee.name, 100);
    const whom = inviteeName ? `${inviteeName} (${invitee.email})` : invitee.email;
    body = {
      subject: `An invitation to watch streams on ${app} needs your approval`,
      paragraphs: [
        `${who} invited ${whom} to watch their streams and recordings on ${app}.`,
        `As their primary guardian, you decide: nobody they invite is even asked before you ` +
        `approve. If you approve, we ask ${invitee.email} to confirm by email; if you deny, ` +
        `they hear nothing from us.`,
      ],
      action: {
        label: "Review the invitation",
        url: await viewerLink("approval", invitee.id),
        note: `This link works for ${lifetime("approval")}.`,
      },
      footer: `You get this email because you are the primary guardian of ${who} on ${app}.`,
    };
  } else if (notification.kind === "consent") {
    body = {
      subject: `You are invited to watch streams on ${app}`,
      paragraphs: [
        `${who} added you as a guardian on ${app}, so that you can watch their streams live ` +
        `and see their recordings.`,
        `Before we send you anything else, please confirm that you want this.`,
      ],
      action: {
        label: "Yes, I want to watch",
        url: await viewerLink("consent", guardianId),
        note: `This link works for ${lifetime("consent")}.`,
      },
      after: [
        `If you don't know ${who}, or don't want these emails, ignore this message: ` +
        `without your confirmation you won't hear from us again.`,
      ],
      footer: `You get this email because ${who} entered your address on ${app}.`,
    };
  } else {
    const preferences = await settings.links.sign({
      type: "preferences",
      guardianId,
      objectId: guardianId,
    });
    headers["List-Unsubscribe"] =
      `<${settings.functionsUrl}/notification-preferences?link=${preferences}>`;
    headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
    const footer = {
      footer: `You get this email because you are a guardian of ${who} on ${app}.`,
      footerLink: {
        label: "Choose which emails you get, or unsubscribe",
        url: `${settings.viewerUrl}/#/${VIEWER_ROUTES.preferences}?link=${preferences}`,
      },
    };
    const session = notification.session;
    const title = singleLine(session?.title ?? null, 120);
    const stream = title ? `“${title}”` : "a stream";
    if (notification.kind === "stream_started") {
      body = {
        subject: `A stream you can watch is live on ${app}`,
        paragraphs: [
          `${who} started streaming ${stream} on ${app}` +
          `${session?.startedAt ? ` at ${formatTime(session.startedAt)}` : ""}.`,
        ],
        action: {
          label: "Watch live",
          url: await viewerLink("watch", session!.id),
          note: `This link works for ${lifetime("watch")}, while the stream is live.`,
        },
        ...footer,
      };
    } else if (notification.kind === "stream_ended") {
      const duration = session?.durationSeconds ??
        (session?.startedAt && session.endedAt
          ? (session.endedAt.getTime() - session.startedAt.getTime()) / 1000
          : null);
      body = {
        subject: `A stream on ${app} has ended`,
        paragraphs: [
          `${who} finished streaming ${stream} on ${app}` +
          `${session?.endedAt ? ` at ${formatTime(session.endedAt)}` : ""}.`,
          duration === null
            ? `We don't know how long it lasted.`
            : `It lasted ${formatDuration(duration)}.`,
          `When a recording of it is ready, we'll email you if you asked for that.`,
        ],
        ...footer,
      };
    } else {
      const recording = notification.recording!;
      const length = recording.durationSeconds === null
        ? ""
        : ` It is ${formatDuration(recording.durationSeconds)} long.`;
      body = {
        subject: `A recording is ready to watch on ${app}`,
        paragraphs: [
          `The recording of ${stream} by ${who}` +
          `${session?.startedAt ? ` (${formatTime(session.startedAt)})` : ""} is ready to ` +
          `watch.${length}`,
        ],
        action: {
          label: "Watch the recording",
          url: await viewerLink("recording", recording.id),
          note: `This link works for ${lifetime("recording")}.`,
        },
        ...footer,
      };
    }
  }

  // The name in a consent request was typed by whoever invited the address, so that email
  // greets no one by it; and no header carries it (the recipient's name is not ours to state).
  const greeting = notification.guardian.name && notification.kind !== "consent"
    ? `Hi ${singleLine(notification.guardian.name, 100)},`
    : "Hello,";
  return {
    notification: { id: notification.id, kind: notification.kind },
    to: { email: notification.guardian.email },
    from: { email: settings.from, name: app },
    subject: singleLine(body.subject, 200)!,
    text: renderText(greeting, body, app),
    html: renderHtml(greeting, body, app),
    headers,
    customArgs: {
      notification_id: notification.id,
      notification_kind: notification.kind,
    },
  };
}

function renderText(greeting: string, body: Body, app: string): string {
  const lines = [greeting, "", ...body.paragraphs.flatMap((p) => [p, ""])];
  if (body.action) {
    lines.push(`${body.action.label}:`, body.action.url, body.action.note, "");
  }
  for (const paragraph of body.after ?? []) lines.push(paragraph, "");
  lines.push(`— ${app}`, "", "--", body.footer);
  if (body.footerLink) {
    lines.push(`${body.footerLink.label}: ${body.footerLink.url}`);
  }
  return lines.join("\n") + "\n";
}

function renderHtml(greeting: string, body: Body, app: string): string {
  const text = "color:#1f2933;font:16px/1.5 -apple-system,'Segoe UI',Roboto,Arial,sans-serif";
  const small = "color:#52606d;font:13px/1.5 -apple-system,'Segoe UI',Roboto,Arial,sans-serif";
  const paragraph = (content: string) => `<p style="margin:0 0 16px;${text}">${content}</p>`;
  const parts = [
    paragraph(escapeHtml(greeting)),
    ...body.paragraphs.map((p) => paragraph(escapeHtml(p))),
  ];
  if (body.action) {
    parts.push(
      `<p style="margin:24px 0 8px"><a href="${escapeHtml(body.action.url)}" ` +
        `style="display:inline-block;padding:12px 20px;border-radius:6px;background:#2557d6;` +
        `color:#ffffff;text-decoration:none;font:600 16px/1.2 -apple-system,'Segoe UI',Roboto,` +
        `Arial,sans-serif">${escapeHtml(body.action.label)}</a></p>`,
      `<p style="margin:0 0 16px;${small}">${escapeHtml(body.action.note)}</p>`,
    );
  }
  parts.push(...(body.after ?? []).map((p) => paragraph(escapeHtml(p))));
  parts.push(paragraph(`— ${escapeHtml(app)}`));
  const footer = [escapeHtml(body.footer)];
  if (body.footerLink) {
    footer.push(
      `<a href="${escapeHtml(body.footerLink.url)}" style="color:#52606d">` +
        `${escapeHtml(body.footerLink.label)}</a>`,
    );
  }
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(body.subject)}</title>`,
    "</head>",
    '<body style="margin:0;padding:24px;background:#ffffff">',
    '<div style="max-width:560px;margin:0 auto">',
    ...parts,
    `<hr style="border:0;border-top:1px solid #e4e7eb;margin:24px 0 16px">`,
    `<p style="margin:0;${small}">${footer.join("<br>")}</p>`,
    "</div>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(
    ">",
    "&gt;",
  )
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** Text a person typed, as one line of at most `max` characters; null when empty. */
function singleLine(value: string | null, max: number): string | null {
  if (value === null) return null;
  const line = value.replace(/[\p{Cc}\u2028\u2029]+/gu, " ").replace(
    /\s+/g,
    " ",
  )
    .trim();
  if (!line) return null;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** `22 Nov 2026, 10:05 UTC`, the same on every runtime (no ICU). */
export function formatTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}, ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

/** `1 hour 5 minutes`, `12 minutes`, `less than a minute`. */
export function formatDuration(seconds: number): string {
  const minutes = Math.round(Math.max(0, seconds) / 60);
  if (minutes < 1) return "less than a minute";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  const parts: string[] = [];
  if (hours > 0) parts.push(`${hours} hour${hours === 1 ? "" : "s"}`);
  if (rest > 0) parts.push(`${rest} minute${rest === 1 ? "" : "s"}`);
  return parts.join(" ");
}

function lifetime(type: LinkType): string {
  const hours = LINK_LIFETIME_SECONDS[type] / 3600;
  return hours % 24 === 0 && hours > 24 ? `${hours / 24} days` : `${hours} hours`;
}
